import type { WireFields } from './fields.ts';
import { MAX_ADDRESSES_PER_PEER, MAX_MULTIADDR_CHARS, MAX_PEER_ID_CHARS } from './limits.ts';

/**
 * Peer ids and multiaddrs travel as text. Their shape is checked here (length, characters); their
 * meaning (a parseable multiaddr, a dialable peer) is the network adapter's business.
 */

const PEER_ID_RULE = {
  maxChars: MAX_PEER_ID_CHARS,
  required: true,
  pattern: { regex: /^[A-Za-z0-9]+$/, description: 'a libp2p peer id' },
};

const MULTIADDR_RULE = {
  maxChars: MAX_MULTIADDR_CHARS,
  required: true,
  pattern: {
    regex: /^\/[\x21-\x7e]*$/,
    description: 'a multiaddr (printable ASCII starting with /)',
  },
};

export function checkPeerText(
  fields: WireFields,
  where: { peerIdField: string; addressesField: string },
  peerId: string,
  addresses: readonly string[],
): void {
  fields.text(where.peerIdField, peerId, PEER_ID_RULE);
  fields.list(where.addressesField, addresses, { maxItems: MAX_ADDRESSES_PER_PEER });
  addresses.forEach((address, index) => {
    fields.text(`${where.addressesField}[${index}]`, address, MULTIADDR_RULE);
  });
}
