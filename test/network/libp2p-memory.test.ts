import { describeNetworkCompliance } from './compliance.ts';
import { createLibp2pHarness } from './libp2p-harness.ts';

describeNetworkCompliance('libp2p over the memory transport', () => createLibp2pHarness('memory'));
