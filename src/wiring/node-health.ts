import type {
  NodeHealth,
  NodeHealthSource,
  ServiceStatus,
  ServiceView,
} from '../adapters/http/node-api.ts';

/**
 * The node's health as the EigenLayer node API reports it, from its lifecycle phase and the
 * backing services the wiring registers:
 * - `starting` → partially healthy (206), whatever the services say;
 * - `stopping` / `stopped` → unhealthy (503): the node no longer takes work;
 * - `running` → unhealthy when a critical service is down (the node cannot serve: its database,
 *   or an operator the registry suspended), partially healthy when any service is down or still
 *   initializing (joining, no epoch yet), healthy when every service is up.
 */
export type NodePhase = 'starting' | 'running' | 'stopping' | 'stopped';

export interface ServiceCheck {
  id: string;
  name: string;
  description: string;
  /** Down makes the whole node unhealthy rather than partially healthy. */
  critical: boolean;
  status(): ServiceStatus | Promise<ServiceStatus>;
}

export interface HealthBoard extends NodeHealthSource {
  phase(): NodePhase;
  setPhase(phase: NodePhase): void;
  register(check: ServiceCheck): void;
  /** 0–100 for `eigen_performance_score`: 100 healthy, 50 partially healthy, 0 unhealthy. */
  performanceScore(): Promise<number>;
}

export function createHealthBoard(): HealthBoard {
  let phase: NodePhase = 'starting';
  const checks: ServiceCheck[] = [];

  const statuses = async () =>
    Promise.all(
      checks.map(async (check) => {
        let status: ServiceStatus;
        try {
          status = await check.status();
        } catch {
          status = 'Down';
        }
        return { check, status };
      }),
    );

  const health = async (): Promise<NodeHealth> => {
    if (phase === 'stopping' || phase === 'stopped') return 'unhealthy';
    const current = await statuses();
    if (phase === 'starting') return 'partiallyHealthy';
    if (current.some(({ check, status }) => check.critical && status === 'Down')) {
      return 'unhealthy';
    }
    return current.every(({ status }) => status === 'Up') ? 'healthy' : 'partiallyHealthy';
  };

  return {
    phase: () => phase,
    setPhase(next) {
      phase = next;
    },
    register(check) {
      const existing = checks.findIndex((c) => c.id === check.id);
      if (existing === -1) checks.push(check);
      else checks[existing] = check;
    },
    health,
    async services(): Promise<ServiceView[]> {
      return (await statuses()).map(({ check, status }) => ({
        id: check.id,
        name: check.name,
        description: check.description,
        status,
      }));
    },
    async performanceScore() {
      const current = await health();
      return current === 'healthy' ? 100 : current === 'partiallyHealthy' ? 50 : 0;
    },
  };
}
