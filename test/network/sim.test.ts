import { describeNetworkCompliance } from './compliance.ts';
import { createSimHarness } from './sim-harness.ts';

describeNetworkCompliance('the simulator network (virtual time)', () => createSimHarness());
