'use strict';
// SDK account objects from our JSON, with the SDK's own coder and IDL.
//
// A template is a zero-filled account decoded by the SDK's anchor coder: it has every
// field under the SDK's camelCase name and with the SDK's value kind (BN, number,
// boolean, enum object, PublicKey). Our JSON names fields as the program does in
// snake case (driftpy's spelling); a name matches a template key when both agree
// ignoring case and underscores (`last24h_avg_funding_rate` ~ `last24HAvgFundingRate`).
// Values are converted by the IDL type of the field, with the on-chain width checked,
// so a typo or an out-of-range value is an error, never a silent zero.

const path = require('path');

const SDK_DIR = path.dirname(require.resolve('@drift-labs/sdk/package.json'));
const ANCHOR_PATH = require.resolve('@coral-xyz/anchor', { paths: [SDK_DIR] });
const anchor = require(ANCHOR_PATH);
const camelcaseModule = require(
  require.resolve('camelcase', { paths: [path.dirname(ANCHOR_PATH)] })
);
const sdk = require('@drift-labs/sdk');
const IDL = require('@drift-labs/sdk/lib/node/idl/drift.json');

const camelCase = camelcaseModule.default || camelcaseModule;
const { BN } = sdk;
const { PublicKey } = require(require.resolve('@solana/web3.js', { paths: [SDK_DIR] }));

/** A mistake in what the caller sent (not an error of the SDK). */
class HarnessError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HarnessError';
  }
}

const coder = new anchor.BorshAccountsCoder(IDL);
const typeDefs = new Map(IDL.types.map((t) => [t.name, t.type]));
const accountDefs = new Map(IDL.accounts.map((a) => [a.name, a.type]));

// Enum keys as the SDK's coder spells them (`pythLazer1M`) and back to the IDL's
// variant names (`PythLazer1M`, as driftpy spells them too).
const variantByKey = new Map();
for (const t of IDL.types) {
  if (t.type.kind === 'enum') {
    for (const v of t.type.variants) variantByKey.set(camelCase(v.name), v.name);
  }
}

const INT_BITS = {
  u8: [8, false], i8: [8, true], u16: [16, false], i16: [16, true],
  u32: [32, false], i32: [32, true], u64: [64, false], i64: [64, true],
  u128: [128, false], i128: [128, true],
};

const norm = (name) => name.replace(/_/g, '').toLowerCase();

/** The variant name (`PythLazer1M`) of an SDK enum key (`pythLazer1M`). */
function variantName(key) {
  return variantByKey.get(key) || key.charAt(0).toUpperCase() + key.slice(1);
}

function accountSize(name) {
  const def = IDL.accounts.find((a) => a.name === name);
  return coder.size(def);
}

/** Decode account bytes (with the discriminator) as the SDK does. */
function decodeAccount(name, data) {
  if (!accountDefs.has(name)) throw new HarnessError(`unknown account type ${name}`);
  return coder.decode(name, data);
}

const templates = new Map();

/** The cached zero-filled SDK object of an account type (never handed out: clone it). */
function cachedTemplate(name) {
  if (!templates.has(name)) {
    if (!accountDefs.has(name)) throw new HarnessError(`unknown account type ${name}`);
    const disc = anchor.BorshAccountsCoder.accountDiscriminator(name);
    templates.set(name, coder.decode(name, Buffer.concat([disc, Buffer.alloc(accountSize(name))])));
  }
  return templates.get(name);
}

/** PublicKey by shape: there can be more than one copy of @solana/web3.js. */
function isPublicKey(value) {
  return value !== null && typeof value === 'object' && typeof value.toBase58 === 'function';
}

function clone(value) {
  if (BN.isBN(value)) return value.clone();
  if (isPublicKey(value)) return value; // immutable
  if (Array.isArray(value)) return value.map(clone);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = clone(v);
    return out;
  }
  return value;
}

function parseInteger(value, where) {
  if (value !== null && typeof value === 'object' && typeof value.$bn === 'string') value = value.$bn;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new HarnessError(
    `${where}: expected an integer as a decimal string, got ${JSON.stringify(value)}`
  );
}

function convertInteger(value, idlType, templateValue, where) {
  const [bits, signed] = INT_BITS[idlType];
  const n = parseInteger(value, where);
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (n < lo || n > hi) throw new HarnessError(`${where}: ${n} does not fit ${idlType}`);
  return BN.isBN(templateValue) ? new BN(n.toString()) : Number(n);
}

function convertEnum(value, enumDef, where) {
  if (typeof value !== 'string') {
    throw new HarnessError(`${where}: expected a variant name, got ${JSON.stringify(value)}`);
  }
  const variant = enumDef.variants.find((v) => norm(v.name) === norm(value));
  if (!variant) {
    const names = enumDef.variants.map((v) => v.name).join(', ');
    throw new HarnessError(`${where}: unknown variant ${value} (one of ${names})`);
  }
  return { [camelCase(variant.name)]: {} };
}

/** The SDK's enum object (`{pythLazer1M: {}}`) for a variant name of an IDL enum. */
function enumValue(enumName, value, where) {
  const def = typeDefs.get(enumName);
  if (!def || def.kind !== 'enum') throw new HarnessError(`unknown enum ${enumName}`);
  return convertEnum(value, def, where);
}

/** The SDK's enum object for a variant name of any IDL enum (`Deposit` -> {deposit: {}}). */
function enumByVariant(value) {
  const key = typeof value === 'string' ? camelCase(value) : undefined;
  if (key === undefined || variantByKey.get(key) !== value) {
    throw new HarnessError(`$enum: unknown variant ${JSON.stringify(value)}`);
  }
  return { [key]: {} };
}

/** Convert one of our JSON values to the SDK's kind for an IDL type. */
function convert(value, idlType, templateValue, where) {
  if (typeof idlType === 'string') {
    if (idlType in INT_BITS) return convertInteger(value, idlType, templateValue, where);
    if (idlType === 'bool') {
      if (typeof value !== 'boolean') throw new HarnessError(`${where}: expected a boolean`);
      return value;
    }
    if (idlType === 'publicKey') {
      try {
        return new PublicKey(value);
      } catch (exc) {
        throw new HarnessError(`${where}: not a base58 public key: ${exc.message}`);
      }
    }
    if (idlType === 'f32' || idlType === 'f64') {
      if (typeof value !== 'number') throw new HarnessError(`${where}: expected a number`);
      return value;
    }
  } else if (idlType.defined) {
    const def = typeDefs.get(idlType.defined);
    if (def.kind === 'enum') return convertEnum(value, def, where);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new HarnessError(`${where}: expected an object for ${idlType.defined}`);
    }
    setFields(templateValue, def.fields, value, where);
    return templateValue;
  } else if (idlType.array) {
    const [itemType, length] = idlType.array;
    if (!Array.isArray(value) || value.length !== length) {
      throw new HarnessError(`${where}: expected an array of ${length}`);
    }
    return value.map((v, i) => convert(v, itemType, templateValue[i], `${where}[${i}]`));
  }
  throw new HarnessError(`${where}: unsupported IDL type ${JSON.stringify(idlType)}`);
}

/** Set each of `given`'s fields on `target` (an SDK object of an IDL struct). */
function setFields(target, idlFields, given, where) {
  const keys = new Map(Object.keys(target).map((k) => [norm(k), k]));
  const fields = new Map(idlFields.map((f) => [norm(f.name), f]));
  for (const [name, value] of Object.entries(given)) {
    const key = keys.get(norm(name));
    const field = fields.get(norm(name));
    if (key === undefined || field === undefined) {
      throw new HarnessError(`unknown field ${where}.${name}`);
    }
    target[key] = convert(value, field.type, target[key], `${where}.${name}`);
  }
  return target;
}

function requireObject(given, where) {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new HarnessError(`${where}: expected an object of fields`);
  }
  return given;
}

/** A fresh template account of `type` with our fields set. */
function buildAccount(type, given) {
  requireObject(given, type);
  return setFields(clone(cachedTemplate(type)), accountDefs.get(type).fields, given, type);
}

/** A fresh `amm` of a template PerpMarket with our fields set. */
function buildAmm(given) {
  requireObject(given, 'PerpMarket.amm');
  const amm = clone(cachedTemplate('PerpMarket').amm);
  return setFields(amm, typeDefs.get('AMM').fields, given, 'PerpMarket.amm');
}

/** `oracleGuardRails` of a template State with our (nested) fields set. */
function buildGuardRails(given) {
  requireObject(given, 'State.oracle_guard_rails');
  return buildAccount('State', { oracle_guard_rails: given }).oracleGuardRails;
}

// An MM reading's confidence is the oracle's widened by the MM oracle's distance from it
// (getOracleConfidenceFromMMOracleData): it can pass u64, so it is checked as a u128.
const ORACLE_FIELDS = {
  price: 'i64', slot: 'u64', confidence: 'u128', twap: 'i64', twap_confidence: 'u64',
  max_price: 'i64', sequence_id: 'u64',
  has_sufficient_number_of_data_points: 'bool', is_mm_oracle_active: 'bool',
};
const ORACLE_REQUIRED = ['price', 'slot', 'confidence'];

/** An OraclePriceData (or MMOraclePriceData); absent or null optional fields stay absent. */
function buildOracle(given) {
  requireObject(given, 'OraclePriceData');
  const out = { hasSufficientNumberOfDataPoints: true };
  for (const [name, value] of Object.entries(given)) {
    const idlType = ORACLE_FIELDS[name];
    if (idlType === undefined) throw new HarnessError(`unknown field OraclePriceData.${name}`);
    if (value === null) continue;
    out[camelCase(name)] = idlType === 'bool'
      ? convert(value, 'bool', undefined, `OraclePriceData.${name}`)
      : convertInteger(value, idlType, new BN(0), `OraclePriceData.${name}`);
  }
  for (const name of ORACLE_REQUIRED) {
    if (!(camelCase(name) in out)) throw new HarnessError(`OraclePriceData.${name} is required`);
  }
  return out;
}

module.exports = {
  BN,
  HarnessError,
  IDL,
  PublicKey,
  anchor,
  buildAccount,
  buildAmm,
  buildGuardRails,
  buildOracle,
  decodeAccount,
  enumByVariant,
  enumValue,
  isPublicKey,
  sdk,
  variantName,
};
