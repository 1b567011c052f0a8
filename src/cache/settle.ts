/**
 * Promise plumbing for the async API.
 *
 * @module
 */

/**
 * Run synchronous work now and hand back its result or error as a Promise,
 * so the async API never throws synchronously and adds no extra tick.
 */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
