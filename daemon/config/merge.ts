/**
 * Deep-merges a partial config into a full one, returning a new object; neither input changes.
 * Objects merge key by key; anything else, arrays included, replaces (an encoder list is a
 * preference order, merging two lists by index would make nonsense). `undefined` means "not
 * given". Keys are copied as own data properties, so a `__proto__` key from a remote patch is
 * an ordinary (and then unknown, hence rejected) field instead of a prototype change.
 */
export function mergePatch(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) define(out, key, value);
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    define(out, key, Object.hasOwn(out, key) && isPlainObject(out[key]) ? mergePatch(out[key], value) : value);
  }
  return out;
}

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
