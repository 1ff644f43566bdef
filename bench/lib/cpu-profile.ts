/**
 * Summarises a V8 CPU profile (`.cpuprofile`, as written by `node --cpu-prof` or the inspector's
 * `Profiler.stop`): self time per function and per area of the code (our sources, each npm
 * package, Node internals, garbage collection, idle).
 */

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    hitCount?: number;
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds between consecutive samples. */
  timeDeltas?: number[];
}

export interface SelfTimeEntry {
  /** `functionName path:line`, the path relative to the repository or the package. */
  name: string;
  area: string;
  selfMs: number;
  /** Of all sampled time (idle included). */
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the thread sat in the event loop with nothing to run (waiting for I/O). */
  idleMs: number;
  top: SelfTimeEntry[];
  byArea: { area: string; selfMs: number; percent: number }[];
}

/** Where a script URL belongs: `src/…` top folder, an npm package, `node:internal`, or a V8 pseudo-frame. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(program)') return '(program: V8/native)';
    return '(native)';
  }
  if (url.startsWith('node:')) return 'node internals';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const ours = /\/(src|sim|bench|test|scripts)\/(.*)$/.exec(url);
  if (ours) {
    const [, top, rest] = ours;
    const parts = (rest ?? '').split('/');
    // src/adapters/x and src/x are the useful granularity; sim/harness likewise.
    const depth = top === 'src' && parts[0] === 'adapters' ? 2 : 1;
    return [top, ...parts.slice(0, Math.min(depth, parts.length - 1))].join('/');
  }
  return url;
}

function shortPath(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  const ours = /\/((?:src|sim|bench|test|scripts)\/.*)$/.exec(url);
  return ours?.[1] ?? url.replace(/^file:\/\//, '');
}

/**
 * Self time per function (merged across call paths), biggest first, and per area. `fromMs` skips
 * the first part of the profile (e.g. start-up) when the samples carry time deltas.
 */
export function summarizeCpuProfile(
  profile: CpuProfile,
  topCount = 30,
  options: { fromMs?: number } = {},
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    // Each delta is the time since the previous sample: it belongs to the sample that ends it.
    const fromUs = (options.fromMs ?? 0) * 1000;
    let atUs = 0;
    for (let i = 0; i < samples.length; i++) {
      atUs += deltas[i] as number;
      if (atUs < fromUs) continue;
      const id = samples[i] as number;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, deltas[i] as number));
    }
  } else {
    const hits = profile.nodes.reduce((total, node) => total + (node.hitCount ?? 0), 0);
    const perHitUs = hits === 0 ? 0 : (profile.endTime - profile.startTime) / hits;
    for (const node of profile.nodes) selfUs.set(node.id, (node.hitCount ?? 0) * perHitUs);
  }
  const totalUs = [...selfUs.values()].reduce((total, value) => total + value, 0);
  const functions = new Map<string, { name: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    if (area === '(idle)') idleUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name =
      url === ''
        ? functionName
        : `${functionName || '(anonymous)'} ${shortPath(url)}:${lineNumber + 1}`;
    const entry = functions.get(name) ?? { name, area, us: 0 };
    entry.us += us;
    functions.set(name, entry);
  }
  const percent = (us: number) => (totalUs === 0 ? 0 : (100 * us) / totalUs);
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    top: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topCount)
      .map((entry) => ({
        name: entry.name,
        area: entry.area,
        selfMs: entry.us / 1000,
        percent: percent(entry.us),
      })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, percent: percent(us) })),
  };
}
