/**
 * Item caps shared by several message types. Each message type also has a byte cap (in its own
 * file) chosen so that a message with every list at its cap still fits.
 */

/** Operators in one epoch, task or proof; SPEC benchmarks go to 128, this leaves room. */
export const MAX_OPERATORS_PER_MESSAGE = 1024;
/** Peers a registry hands out in one join or sync answer. */
export const MAX_PEERS_PER_MESSAGE = 512;
export const MAX_ADDRESSES_PER_PEER = 8;
export const MAX_MULTIADDR_CHARS = 256;
/** libp2p peer ids are 46–59 characters (base58btc or base32 CID); 128 is generous. */
export const MAX_PEER_ID_CHARS = 128;
/** Free-text explanations (refusal details, failure reasons). */
export const MAX_DETAIL_CHARS = 512;
