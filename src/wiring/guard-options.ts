import type { GuardSection } from '../config/schema.ts';
import type { PeerGuardOptions } from '../core/peer-guard.ts';
import { PROTOCOLS, type Protocol, TOPICS, type Topic } from '../ports/network.ts';

/** The config's channel names (`guard.rateLimits.<name>`) and the channels they stand for. */
const CHANNELS: Readonly<Record<string, Protocol | Topic>> = {
  join: PROTOCOLS.join,
  sync: PROTOCOLS.sync,
  health: PROTOCOLS.health,
  response: PROTOCOLS.response,
  task: TOPICS.task,
  epoch: TOPICS.epoch,
};

/**
 * The YAML `guard` section as overrides of a node's guard policy (`defaults`: the role's
 * REGISTRY_GUARD_OPTIONS or OPERATOR_GUARD_OPTIONS). Only the keys given replace a default; a
 * rate limit given for one channel keeps the others' defaults.
 */
export function guardOptionsFromConfig(
  section: GuardSection,
  defaults: PeerGuardOptions,
): Partial<PeerGuardOptions> {
  const rateLimits: PeerGuardOptions['rateLimits'] = { ...defaults.rateLimits };
  for (const [name, limit] of Object.entries(section.rateLimits)) {
    const channel = CHANNELS[name];
    if (channel !== undefined && limit !== undefined) rateLimits[channel] = limit;
  }
  return {
    rateLimits,
    ...(section.strangerGraceMs === undefined
      ? {}
      : { unknownPeerGraceMs: section.strangerGraceMs }),
    ...(section.strangerAdmissions === undefined
      ? {}
      : { strangerAdmissions: section.strangerAdmissions }),
    ...(section.strikesBeforeBan === undefined
      ? {}
      : { strikesBeforeBan: section.strikesBeforeBan }),
    ...(section.strikeRefillPerSec === undefined
      ? {}
      : { strikeRefillPerSec: section.strikeRefillPerSec }),
    ...(section.banMs === undefined ? {} : { banMs: section.banMs }),
  };
}
