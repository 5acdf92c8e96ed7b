// `run(handler)`: the whole life of a module in one call, with the exit code Ion's retries rely on.
import { Module, type OpenOptions } from "./module.js";

export type Handler = (module: Module) => unknown;

/**
 * Opens the module, runs the handler, then calls /done; resolves to the exit code and sets
 * process.exitCode. If the handler throws, /done is NOT called (nothing is committed): the error
 * goes to stderr and the exit code is 1, so Ion retries the job. A refused /done also gives 1.
 */
export async function run(handler: Handler, options: OpenOptions = {}): Promise<number> {
  const code = await runModule(handler, options);
  process.exitCode = code;
  return code;
}

async function runModule(handler: Handler, options: OpenOptions): Promise<number> {
  let module: Module;
  try {
    module = await Module.open(options);
  } catch (error) {
    console.error(`ion module: could not start: ${describe(error)}`);
    return 1;
  }
  try {
    await handler(module);
  } catch (error) {
    console.error(`ion module: the handler failed; nothing was committed: ${describe(error, true)}`);
    return 1;
  }
  try {
    await module.done();
  } catch (error) {
    console.error(`ion module: ${describe(error)}`);
    return 1;
  }
  return 0;
}

function describe(error: unknown, withStack = false): string {
  if (error instanceof Error) return withStack && error.stack ? error.stack : error.message;
  return String(error);
}
