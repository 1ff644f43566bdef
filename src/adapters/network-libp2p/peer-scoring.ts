import type { GossipsubOpts } from '@libp2p/gossipsub';
import { TOPICS, type Topic } from '../../ports/network.ts';

/**
 * Gossipsub peer scoring tuned for Spotted's traffic: four topics, few messages (a task round,
 * a handful of results, one epoch state per epoch), a small known set of honest peers that the
 * connection gate already admits by identity. So:
 *
 * - Invalid messages are what count. Our validators `reject` only what no honest node sends
 *   (malformed or oversize bytes, a forged sender, a bad signature; see `toGossipVerdict`), and
 *   gossipsub validates before forwarding, so an honest forwarder never relays a rejected
 *   message. P4 (invalid deliveries, squared) is weighted so that 3 rejected messages in quick
 *   succession put a peer below the graylist threshold (−10 · 3² = −90 < −80): from then on its
 *   RPCs are ignored until the counter decays (×0.9 per second: back above −80 in about 2 s,
 *   above the publish threshold in about 5 s, so a one-off honest bug does not exclude a peer
 *   for long, while a flood keeps it graylisted).
 * - No mesh-delivery penalties (P3, P3b): honest traffic is bursty and sparse, so "too few
 *   deliveries in the mesh" would punish honest peers during quiet epochs.
 * - A small reward for time in mesh (P1) and first deliveries (P2), capped, so a long-lived honest
 *   peer outranks a fresh one when meshes are pruned, but rewards can never outweigh one burst
 *   of invalid messages (caps sum to +10 per topic, topicScoreCap 20).
 * - IP colocation (P6) off: operators may share NATs or cloud ranges, tests run on loopback, and
 *   admission is by peer identity (the connection gate), not by address.
 * - Behaviour penalty (P7: broken promises, GRAFT spam during backoff) kept at the gossipsub
 *   defaults' spirit: weight −10 above 6 offences.
 */
const DECAY_INTERVAL_MS = 1000;

function topicScoreParams(topicWeight: number) {
  return {
    topicWeight,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 7,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9,
  };
}

/** Every topic counts the same: an invalid epoch state is as bad as an invalid task. */
const TOPIC_WEIGHTS: Readonly<Record<Topic, number>> = {
  [TOPICS.task]: 1,
  [TOPICS.result]: 1,
  [TOPICS.epoch]: 1,
  [TOPICS.registry]: 1,
};

export const SPOTTED_SCORE_THRESHOLDS: GossipsubOpts['scoreThresholds'] = {
  /** Below: no gossip (IHAVE/IWANT) exchanged with the peer. */
  gossipThreshold: -10,
  /** Below: our own messages are not published to the peer. */
  publishThreshold: -50,
  /** Below: the peer's RPCs are ignored entirely. */
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 2,
};

export const SPOTTED_SCORE_PARAMS: GossipsubOpts['scoreParams'] = {
  topics: Object.fromEntries(
    Object.entries(TOPIC_WEIGHTS).map(([topic, weight]) => [topic, topicScoreParams(weight)]),
  ),
  topicScoreCap: 20,
  appSpecificWeight: 0,
  IPColocationFactorWeight: 0,
  IPColocationFactorThreshold: 10,
  behaviourPenaltyWeight: -10,
  behaviourPenaltyThreshold: 6,
  behaviourPenaltyDecay: 0.9,
  decayInterval: DECAY_INTERVAL_MS,
  decayToZero: 0.01,
  /** A peer that disconnects keeps its (negative) score this long: reconnecting does not launder it. */
  retainScore: 60_000,
};
