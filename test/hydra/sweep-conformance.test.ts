// Issue 15's sweep definition against real Hydra 1.3.2: planSweep's runs compared with what BasicSweeper.split_arguments
// makes of the same overrides (test/hydra/oracle.py's sweep op; nothing is launched), on a hand-picked corpus and on
// sweeps generated with fast-check: the same runs in the same order, the same refusals. In CI a missing Hydra is a
// failure; elsewhere the suite skips, saying what it needs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SweepTooLargeError } from '../../server/errors.js';
import { planSweep, type SweepPlan } from '../../server/projects/hydra/sweep.js';
import type { HydraOracle, SweepRequest } from './oracle.js';
import { oracleForBlock, realHydra } from './suite.js';

const hydra = realHydra('the Hydra sweep conformance suite');

const GROUPS: Record<string, string[]> = { model: ['cnn', 'resnet18', 'resnet50', 'vit'], 'model/encoder': ['big', 'small'], db: ['mysql', 'postgresql'] };
// Big enough that no sweep of the corpus is refused for its size: the size limit is ours, not Hydra's.
const LIMIT = 100_000;

const HAND_PICKED: SweepRequest[] = [
  { overrides: ['seed=1,2,3', 'model=resnet18,vit'] },
  { overrides: ['seed=1,2,3', 'model=resnet18,vit', 'trainer.max_epochs=5'] },
  { overrides: ['lr=range(0,1,0.1)'] },
  { overrides: ['lr=range(0.1,0.5,0.05)', 'b=range(5,-5,-3)'] },
  { overrides: ['a=range(1.5,10)', 'b=range(3)', 'c=range(-1,1,0.3)'] },
  { overrides: ['a=range(0,1e-3,1e-4)', 'b=range(1e15,1e15+8,2.5)'] },
  { overrides: ['a=range(True,4)', 'b=range(0,2,False)'] },
  { overrides: ['a=range(1,5,0)'] },
  { overrides: ['a=range(1,5,0.0)'] },
  { overrides: ['a=range(0)'] },
  { overrides: ['a=range(5,1)', 'b=1,2'] },
  { overrides: ['a=range(0,nan)'] },
  { overrides: ['a=sort(range(1,10,3),reverse=true)', 'b=sort(range(10,1,-2))', 'c=sort(range(0.5,2,0.5),reverse=true)'] },
  { overrides: ['a=sort(3,1,2)', 'b=sort(b,a,c,reverse=true)', 'c=sort(choice(2.5,1,true))'] },
  { overrides: ['a=sort(1,b)'] },
  { overrides: ['a=sort([3,1,2])', 'b=sort(list=[b,a])', 'c=sort(x)'] },
  { overrides: ['a=choice(1,2)', 'b=choice([1,2],{a:1},x y)', 'c=tag(t1,t2,choice(a,b))', 'd=tag(range(1,3))'] },
  { overrides: ['a=choice(choice(1,2))'] },
  { overrides: ['a=choice(1,2,3)', 'a=4'] },
  { overrides: ['a=x', 'b=1,2', 'a=5,6'] },
  { overrides: ['a=1,choice(2,3)'] },
  { overrides: ['a=[choice(2,3)]'] },
  { overrides: ['a=interval(0,1)'] },
  { overrides: ['a=tag(t,interval(0,1))', 'b=1,2'] },
  { overrides: ['model=glob(*)'] },
  { overrides: ['model=glob(resnet*)', 'db=glob([*sql],exclude=mysql)', 'model/encoder=glob(*,exclude=big)'] },
  { overrides: ['model=glob(nothing*)'] },
  { overrides: ['flag=true,false,TRUE', 'x=null,NULL', 'f=1.50,1e-5,1e16,inf,-inf,nan,1_000.5', 'i=1_000,007,+5,-0'] },
  { overrides: ['s="a b",\'c,d\',"x\\"y",plain'] },
  { overrides: ['s=a\\ b,c\\,d,e\\=f,g\\\\h', 'p=/path/to/x.txt,${oc.env:HOME}', 'k=${a.b},a:b'] },
  { overrides: ['l=[1,"a b",[2,3]],{a:1,b:[x,y]},{}', 'e=', 'w= padded ,  x  '] },
  { overrides: ['+new=1,2', '++force=a,b', '~gone', '~gone2=3', 'db@src=mysql,postgresql', '+model@backbone=vit'] },
  { overrides: ['a=int(1.9,2.5)', 'b=float(1,2)', 'c=str(1,true,1.5)', 'd=bool(0,1,"true")', 'e=int(range(1.5,4.5))', 'f=float(range(1,3))'] },
  { overrides: ['a=int(x,y)'] },
  { overrides: ['a=str(range(1,3))'] },
  { overrides: ['a=int(value=choice(1.5,2.5))', 'b=str([1,2])', 'c=int({a:1.5})'] },
  { overrides: ['a=shuffle(1,2,3,4,5)', 'b=x,y'] },
  { overrides: ['a=shuffle(range(5))', 'b=shuffle(choice(a,b,c))', 'c=shuffle(sweep=choice(1,2))'] },
  { overrides: ['a=shuffle(x)', 'b=1,2'] },
  { overrides: ['hydra.job.chdir=true,false', 'hydra/launcher=basic'] },
  { overrides: ['seed=1,2'], params: { lr: '0.1,0.01', 'model': 'resnet18,vit', epochs: 3, fast: true, ratio: 0.5 } },
  { overrides: ['lr=0.5'], params: { lr: '0.1,0.01', seed: 'range(2)' } },
  { overrides: [], params: { lr: 'interval(0,1)' } },
  { overrides: [], params: {} },
  { overrides: ['a=choice(1,2'] },
  { overrides: ['a=json_str(1),2'] },
];

// Sweeps shaped like what users write, with the places where spellings part: numbers, booleans, quotes, escapes,
// nested values, every sweep function and their arguments.
const value = fc.constantFrom(
  '1', '1,2', '1,2,3', 'a,b', 'true,false', 'null', '1.5,2.50', '1e-5,1e5', 'inf', '"q",r', "'x y',z", 'a\\ b,c', '[1,2],[3]', '{a:1},{b:2}', '',
  'choice(1,2)', 'choice(a,[1,2])', 'choice(choice(1,2))', 'choice(1,2),3', 'range(3)', 'range(1,4)', 'range(0,1,0.25)', 'range(0,0.3,0.1)', 'range(5,0,-2)',
  'range(1,2,0)', 'range(2.5)', 'range(-1.5,1.5,0.7)', 'range(0)', 'sort(3,1,2)', 'sort(range(3),reverse=true)', 'sort(choice(b,a))', 'sort(a,1)',
  'sort([2,1])', 'tag(t,choice(1,2))', 'tag(range(2))', 'interval(0,1)', 'int(1.5,2.5)', 'float(range(1,3))', 'str(1,2.0,true)', 'bool(0,1)', 'int(a)',
  'glob(*)', 'glob(r*,exclude=resnet50)', 'x=y', '${a},${b}', 'a:b,c', '1_000,2', '[choice(1,2)]', 'shuffle(1,2,3)', 'shuffle(range(3))',
);
const key = fc.constantFrom('a', 'b.c', 'model', 'db', '+x', '++y', '~z', 'db@pkg', 'model/encoder', 'a', 'hydra.job.name');
const generated: SweepRequest[] = fc.sample(
  fc.record({
    overrides: fc.array(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), { minLength: 1, maxLength: 4 }),
    params: fc.option(fc.dictionary(fc.constantFrom('lr', 'seed', 'a'), value, { maxKeys: 2 }), { nil: undefined }),
  }),
  { numRuns: 400, seed: 15 },
);

type Ours = SweepPlan | Error;

function ours(request: SweepRequest): Ours {
  try {
    return planSweep(request.overrides, { limit: LIMIT, params: request.params, groupOptions: (group) => GROUPS[group] });
  } catch (error) {
    return error as Error;
  }
}

/** The runs as a comparable list: shuffle() makes Hydra's order random, so such sweeps compare as sets of runs. */
function comparable(runs: string[][], request: SweepRequest): string[] {
  const lines = runs.map((run) => JSON.stringify(run));
  const shuffles = [...request.overrides, ...Object.values(request.params ?? {}).map(String)].some((text) => text.includes('shuffle('));
  return shuffles ? lines.sort() : lines;
}

function disagreement(request: SweepRequest, theirs: Awaited<ReturnType<HydraOracle['sweep']>>, mine: Ours): string | null {
  const label = `${JSON.stringify(request.overrides)}${request.params ? ` params ${JSON.stringify(request.params)}` : ''}`;
  if (mine instanceof SweepTooLargeError) return `${label}: we refuse it as too large (${mine.message})`;
  if (!theirs.ok) return mine instanceof Error ? null : `${label}: Hydra refuses (${theirs.error.split('\n')[0]}), we give ${mine.count} runs`;
  // A sweep without runs: Hydra launches nothing; we refuse it, naming the empty key (deliberate).
  if (theirs.runs.length === 0) return mine instanceof Error && /no runs/.test(mine.message) ? null : `${label}: Hydra has no runs, we ${mine instanceof Error ? `refuse (${mine.message})` : `give ${mine.count}`}`;
  if (mine instanceof Error) return `${label}: Hydra gives ${theirs.runs.length} runs (${JSON.stringify(theirs.runs[0])}…), we refuse (${mine.message})`;
  const [a, b] = [comparable(theirs.runs, request), comparable(mine.runs, request)];
  const first = a.findIndex((line, index) => line !== b[index]);
  if (a.length !== b.length || first >= 0) return `${label}: Hydra ${a.length} runs, we ${b.length}; first difference at ${first}: Hydra ${a[first]}, we ${b[first]}`;
  return null;
}

describe.skipIf(!hydra.ok)('planSweep agrees with Hydra 1.3.2’s BasicSweeper', () => {
  const oracle = oracleForBlock();

  it.each([
    [`the hand-picked corpus (${HAND_PICKED.length} sweeps)`, HAND_PICKED],
    [`${generated.length} generated sweeps`, generated],
  ])('%s', async (_name, requests) => {
    const disagreements: string[] = [];
    let runs = 0;
    let refused = 0;
    for (const request of requests) {
      const theirs = await oracle().sweep({ ...request, groupOptions: GROUPS });
      const mine = ours(request);
      const why = disagreement(request, theirs, mine);
      if (why) disagreements.push(why);
      if (theirs.ok) runs += theirs.runs.length;
      else refused++;
    }
    console.info(`${requests.length} sweeps: ${requests.length - refused} expanded by Hydra (${runs} runs), ${refused} refused; ${disagreements.length} disagreements`);
    expect(disagreements).toEqual([]);
    // Both kinds must be in the corpus, or the comparison proves little.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(requests.length);
  });
});
