import { describeNetworkCompliance } from './compliance.ts';
import { createLibp2pHarness } from './libp2p-harness.ts';

describeNetworkCompliance('libp2p over TCP on 127.0.0.1', () => createLibp2pHarness('tcp'));
