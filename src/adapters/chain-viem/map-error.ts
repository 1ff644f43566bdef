import {
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  decodeErrorResult,
  HttpRequestError,
  isHex,
  RpcRequestError,
  TimeoutError,
} from 'viem';
import { ecdsaStakeRegistryAbi } from '../../../contracts-abi/ECDSAStakeRegistry.ts';
import { epochManagerAbi } from '../../../contracts-abi/EpochManager.ts';
import { spottedConsumerAbi } from '../../../contracts-abi/SpottedConsumer.ts';
import { stateManagerAbi } from '../../../contracts-abi/StateManager.ts';
import {
  ChainError,
  type ChainErrorContext,
  ChainRpcError,
  CONTRACT_ERROR_NAMES,
  type ContractErrorName,
  ContractNotFoundError,
  ContractRevertError,
} from '../../chain/errors.ts';

const knownErrorNames: ReadonlySet<string> = new Set(CONTRACT_ERROR_NAMES);

/** Every custom error of our contracts, to decode revert data that viem could not attribute. */
const contractErrorsAbi = [
  ...stateManagerAbi,
  ...epochManagerAbi,
  ...ecdsaStakeRegistryAbi,
  ...spottedConsumerAbi,
].filter((item) => item.type === 'error');

/** Revert data carried anywhere in the cause chain (e.g. a reverted deployment). */
function decodeRevertData(error: BaseError): string | undefined {
  let found: string | undefined;
  error.walk((e) => {
    const data = (e as { data?: unknown }).data;
    if (typeof data === 'string' && isHex(data) && data.length >= 10) {
      try {
        found = decodeErrorResult({ abi: contractErrorsAbi, data }).errorName;
        return true;
      } catch {
        // not one of ours
      }
    }
    return false;
  });
  return found;
}

/** `StateManager__NoHistoryFound` → `NoHistoryFound`. */
function stripPrefix(errorName: string): string {
  const at = errorName.lastIndexOf('__');
  return at === -1 ? errorName : errorName.slice(at + 2);
}

export interface ErrorContext extends ChainErrorContext {
  rpcUrl: string;
  /** The contract a call targeted, for "no contract at …" messages. */
  contract?: { name: string; address: string };
}

/** Turns whatever viem threw into one of our typed chain errors. */
export function toChainError(error: unknown, context: ErrorContext): Error {
  if (error instanceof ChainError) return error;
  if (!(error instanceof BaseError)) {
    return new ChainRpcError(
      error instanceof Error ? error.message : String(error),
      context,
      error,
    );
  }
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    const name = reverted.data?.errorName;
    if (name !== undefined) {
      const stripped = stripPrefix(name);
      if (knownErrorNames.has(stripped)) {
        return new ContractRevertError(stripped as ContractErrorName, context, error);
      }
    }
    return new ChainRpcError(`call reverted: ${reverted.shortMessage}`, context, error, {
      reverted: true,
    });
  }
  const decoded = decodeRevertData(error);
  if (decoded !== undefined && knownErrorNames.has(stripPrefix(decoded))) {
    return new ContractRevertError(stripPrefix(decoded) as ContractErrorName, context, error);
  }
  if (error.walk((e) => e instanceof ContractFunctionZeroDataError) && context.contract) {
    return new ContractNotFoundError(
      context.contract.name,
      context.contract.address,
      context,
      error,
    );
  }
  const transport = error.walk(
    (e) =>
      e instanceof HttpRequestError || e instanceof TimeoutError || e instanceof RpcRequestError,
  );
  const detail = transport instanceof BaseError ? transport.shortMessage : error.shortMessage;
  return new ChainRpcError(detail, context, error);
}

/** Runs `call`, converting failures with `toChainError`. */
export async function withChainErrors<T>(
  context: ErrorContext,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toChainError(error, context);
  }
}
