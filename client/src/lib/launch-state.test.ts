import { describe, expect, it } from 'vitest';
import type { JobInput, ScriptPreview } from '../api/launch';
import { launchInput, previewIsStale } from './launch-state';

const input: JobInput = {
  projectId: 1,
  cluster: 'lab',
  name: null,
  description: '',
  partition: null,
  account: null,
  qos: null,
  nodes: 1,
  gpusPerNode: 0,
  gpuType: null,
  cpusPerTask: 1,
  memory: '4G',
  timeLimit: '1:00:00',
  primary: 'train',
  groups: [],
  parameters: [{ path: 'seed', value: 7 }],
  rawOverrides: '',
  parentJobId: null,
  allowUnpushed: false,
};
const preview: ScriptPreview = {
  script: '#!/bin/bash\n',
  tag: 'tag-1',
  warnings: [],
  commit: '0123456789abcdef0123456789abcdef01234567',
  preflight: { outcome: 'ACCEPTED', estimatedStartAt: null, nodes: 'gpu-a100', partition: 'gpu', message: 'sbatch: Job 1 to start at …', field: null },
};

describe('a launch runs the commit its form was previewed from', () => {
  it('submits the previewed input pinned to the commit the preview read', () => {
    expect(launchInput(input, preview)).toEqual({ ...input, commit: '0123456789abcdef0123456789abcdef01234567' });
  });

  it('previews again when the server says HEAD moved since, as when the tag is spent', () => {
    expect(previewIsStale('commit')).toBe(true);
    expect(previewIsStale('tag')).toBe(true);
    // A refused value points at its control instead.
    expect(previewIsStale('memory')).toBe(false);
    expect(previewIsStale(null)).toBe(false);
  });
});
