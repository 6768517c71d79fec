// cgroup v1 `freezer` controller: no limits; kill freezes the cgroup so nothing can fork while the
// SIGKILLs go out, then thaws it so the signals are delivered (containerd's v1 kill).
import type { CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';

export const FREEZER_STATE_FILE = 'freezer.state';

export function freezerWrites(_limits: ContainerLimits): CgroupFileWrite[] {
  return [];
}

export type FreezerState = 'FROZEN' | 'FREEZING' | 'THAWED';

export function parseFreezerState(text: string): FreezerState | undefined {
  const state = text.trim();
  return state === 'FROZEN' || state === 'FREEZING' || state === 'THAWED' ? state : undefined;
}
