// Largest-triangle-three-buckets (Steinarsson 2013): keeps the first and last point and, from each of maxPoints − 2
// equal buckets, the point that makes the largest triangle with the point kept before it and the mean of the next
// bucket, so peaks and drops survive where plain striding would skip them. NaN and ±Infinity values are what a user
// must see (a diverged run): they are kept (the first of each run of them; evenly thinned only if they alone exceed
// half the budget) and LTTB shares the rest of the budget among the finite points, the lowest and highest always among
// them.

export function downsample<P extends { step: number; value: number }>(points: readonly P[], maxPoints: number): P[] {
  const budget = Math.max(0, Math.floor(maxPoints));
  if (points.length <= budget) return points.slice();
  if (budget === 0) return [];
  const finite: P[] = [];
  let special: P[] = [];
  let previousKind: string | null = null;
  for (const point of points) {
    if (Number.isFinite(point.value)) {
      finite.push(point);
      previousKind = null;
      continue;
    }
    const kind = String(point.value);
    if (kind !== previousKind) special.push(point);
    previousKind = kind;
  }
  const specialBudget = Math.max(1, Math.floor(budget / 2));
  if (special.length > specialBudget) special = evenly(special, specialBudget);
  const chosen = lttb(finite, budget - special.length);
  // The lowest and highest finite points are always drawn (a run's best value is read off the line, and LTTB may
  // prefer a neighbour of a peak): a missing one takes the place of the chosen point nearest to it, never an end.
  if (chosen.length >= 4) {
    const extremes = extremesOf(finite);
    for (const extreme of extremes) {
      if (chosen.includes(extreme)) continue;
      let nearest = -1;
      for (let i = 1; i < chosen.length - 1; i++) {
        if (extremes.includes(chosen[i]!)) continue;
        if (nearest < 0 || Math.abs(chosen[i]!.step - extreme.step) < Math.abs(chosen[nearest]!.step - extreme.step)) nearest = i;
      }
      chosen[nearest] = extreme;
    }
  }
  const kept = new Set<P>([...special, ...chosen]);
  return points.filter((point) => kept.has(point));
}

/** The lowest and the highest finite point (the first of equals). */
function extremesOf<P extends { value: number }>(finite: readonly P[]): P[] {
  if (finite.length === 0) return [];
  let low = finite[0]!;
  let high = finite[0]!;
  for (const point of finite) {
    if (point.value < low.value) low = point;
    if (point.value > high.value) high = point;
  }
  return low === high ? [low] : [low, high];
}

function evenly<P>(points: readonly P[], count: number): P[] {
  if (count <= 0) return [];
  if (count === 1) return [points[0]!];
  return Array.from({ length: count }, (_, i) => points[Math.round((i * (points.length - 1)) / (count - 1))]!);
}

function lttb<P extends { step: number; value: number }>(points: readonly P[], count: number): P[] {
  if (points.length <= count) return points.slice();
  if (count < 3) return evenly(points, count);
  const kept: P[] = [points[0]!];
  const every = (points.length - 2) / (count - 2);
  let a = 0;
  for (let bucket = 0; bucket < count - 2; bucket++) {
    const start = Math.floor(bucket * every) + 1;
    const end = Math.min(Math.floor((bucket + 1) * every) + 1, points.length - 1);
    const nextEnd = Math.min(Math.floor((bucket + 2) * every) + 1, points.length);
    let meanStep = 0;
    let meanValue = 0;
    for (let i = end; i < nextEnd; i++) {
      meanStep += points[i]!.step;
      meanValue += points[i]!.value;
    }
    const span = Math.max(1, nextEnd - end);
    meanStep /= span;
    meanValue /= span;
    let best = start;
    let bestArea = -1;
    for (let i = start; i < end; i++) {
      const area = Math.abs((points[a]!.step - meanStep) * (points[i]!.value - points[a]!.value) - (points[a]!.step - points[i]!.step) * (meanValue - points[a]!.value));
      if (area > bestArea) {
        bestArea = area;
        best = i;
      }
    }
    kept.push(points[best]!);
    a = best;
  }
  kept.push(points.at(-1)!);
  return kept;
}
