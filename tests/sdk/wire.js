'use strict';
// The JSON wire: tagged arguments to SDK values, SDK results to tagged JSON.
//
// Integers always cross as decimal strings (u64/u128/i128 exceed 2^53):
// args   {"$bn": "123"} -> BN; a JSON number -> a JS number; null -> undefined;
//        {"$perpMarket"|"$amm"|"$spotMarket"|"$state"|"$oracleGuardRails"|"$oracle": {...}}
//        -> SDK objects;
//        {"$account": {"type", "base64"}} -> the account decoded by the SDK's coder;
//        {"$enum": "Deposit"} -> the SDK's enum object ({deposit: {}}); arrays recurse.
// results BN -> {"$bn": "..."}; number -> {"$num": x} (non-finite as "NaN",
//        "Infinity", "-Infinity"); PublicKey -> base58; {variant: {}} -> {"$enum":
//        "Variant"}; bigint -> {"$bn"}; objects and arrays recurse; undefined is dropped
//        from objects and null in arrays.

const objects = require('./objects');

const { BN, HarnessError } = objects;

const BUILDERS = {
  $perpMarket: (v) => objects.buildAccount('PerpMarket', v),
  $spotMarket: (v) => objects.buildAccount('SpotMarket', v),
  $state: (v) => objects.buildAccount('State', v),
  $amm: (v) => objects.buildAmm(v),
  $oracleGuardRails: (v) => objects.buildGuardRails(v),
  $oracle: (v) => objects.buildOracle(v),
  $account: (v) => {
    if (v === null || typeof v !== 'object' || typeof v.base64 !== 'string') {
      throw new HarnessError('$account: expected {"type": ..., "base64": ...}');
    }
    return objects.decodeAccount(v.type, Buffer.from(v.base64, 'base64'));
  },
  $enum: (v) => objects.enumByVariant(v),
  $bn: (v) => {
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
      throw new HarnessError(`$bn: expected a decimal string, got ${JSON.stringify(v)}`);
    }
    return new BN(v);
  },
};

/** One argument from the wire to the SDK's kind. */
function decodeArg(value) {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map(decodeArg);
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0].startsWith('$')) {
      const build = BUILDERS[keys[0]];
      if (!build) throw new HarnessError(`unknown tag ${keys[0]}`);
      return build(value[keys[0]]);
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = decodeArg(v);
    return out;
  }
  return value;
}

function encodeNumber(x) {
  if (Number.isNaN(x)) return { $num: 'NaN' };
  if (x === Infinity) return { $num: 'Infinity' };
  if (x === -Infinity) return { $num: '-Infinity' };
  return { $num: x };
}

function isEnum(value, keys) {
  if (keys.length !== 1) return false;
  const inner = value[keys[0]];
  return inner !== null && typeof inner === 'object' && !Array.isArray(inner) &&
    Object.keys(inner).length === 0;
}

const MAX_DEPTH = 64;

/** An SDK result to the wire. */
function encodeResult(value, depth = 0) {
  if (depth > MAX_DEPTH) throw new HarnessError('result nests too deep (a cycle?)');
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case 'number':
      return encodeNumber(value);
    case 'bigint':
      return { $bn: value.toString() };
    case 'boolean':
    case 'string':
      return value;
    case 'function':
      return null;
    default:
      break;
  }
  if (BN.isBN(value)) return { $bn: value.toString(10) };
  if (objects.isPublicKey(value)) return value.toBase58();
  if (typeof value.then === 'function') {
    throw new HarnessError('the function returned a promise: only synchronous calls are supported');
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return Array.from(value, (v) => encodeResult(v, depth + 1));
  }
  const keys = Object.keys(value);
  if (isEnum(value, keys)) return { $enum: objects.variantName(keys[0]) };
  const out = {};
  for (const k of keys) {
    if (value[k] === undefined || typeof value[k] === 'function') continue;
    out[k] = encodeResult(value[k], depth + 1);
  }
  return out;
}

/** An exception to the wire's error shape, keeping the message for classification. */
function encodeError(exc) {
  if (exc instanceof Error) {
    return { type: exc.name || exc.constructor.name, message: String(exc.message) };
  }
  return { type: typeof exc, message: String(exc) };
}

module.exports = { decodeArg, encodeError, encodeResult };
