'use strict';
// The official Drift SDK as a long-lived reference process, JSON lines on stdin/stdout.
//
// Request  {"id": N, "calls": [{"fn": NAME, "args": [...], "now": <unix s>?}, ...]}
// Reply    {"id": N, "results": [{"ok": VALUE} | {"error": {"type", "message"}}, ...]}
// A line that is not a request gets {"id": N|null, "error": {"type": "ProtocolError", ...}}.
// After loading the SDK the process prints one {"ready": true, "sdk": VERSION, ...} line.
// NAME is a harness function below or anything `@drift-labs/sdk` exports. With `now`,
// the wall clock (`Date.now()` and `new Date()`) reads `now` during that call only.
// The wire encoding is wire.js; SDK objects from our JSON are objects.js.

// Only replies go to stdout: anything else printing there (the SDK, its dependencies)
// goes to stderr, so it cannot corrupt the protocol.
const writeReply = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, encoding, callback) =>
  process.stderr.write(chunk, encoding, callback);

const readline = require('readline');

const objects = require('./objects');
const wire = require('./wire');

const { HarnessError, sdk } = objects;
const SDK_VERSION = require('@drift-labs/sdk/package.json').version;
const { Connection, Keypair } = require(require.resolve('@solana/web3.js', {
  paths: [require('path').dirname(require.resolve('@drift-labs/sdk/package.json'))],
}));

// The oracle clients need a Connection to be constructed; decoding a buffer uses none.
const OFFLINE_URL = 'http://127.0.0.1:9';
let program;
const oracleClients = new Map();

function oracleClient(sourceName) {
  const source = objects.enumValue('OracleSource', sourceName, 'decodeOracle');
  const key = Object.keys(source)[0];
  if (!oracleClients.has(key)) {
    const connection = new Connection(OFFLINE_URL);
    if (program === undefined) {
      const anchor = objects.anchor;
      const provider = new anchor.AnchorProvider(
        connection, new sdk.Wallet(Keypair.generate()), {}
      );
      program = new anchor.Program(objects.IDL, new objects.PublicKey(sdk.DRIFT_PROGRAM_ID), provider);
    }
    oracleClients.set(key, sdk.getOracleClient(source, connection, program));
  }
  return oracleClients.get(key);
}

function requireBase64(value, where) {
  if (typeof value !== 'string') throw new HarnessError(`${where}: expected base64 account data`);
  return Buffer.from(value, 'base64');
}

// Set on the oracle handed to getMMOracleDataForPerpMarket: the fallback branch
// returns `{...oracleData, isMMOracleActive}` (copies it), the MM branch a new object.
const ORACLE_MARKER = '__harnessExchangeOracle';

const HARNESS_FUNCTIONS = {
  version: () => SDK_VERSION,

  decodeAccount: (type, base64) =>
    objects.decodeAccount(type, requireBase64(base64, 'decodeAccount')),

  decodeOracle: (sourceName, base64) =>
    oracleClient(sourceName).getOraclePriceDataFromBuffer(requireBase64(base64, 'decodeOracle')),

  // `state` is a State, or only its oracleGuardRails (all the method reads of it).
  getMMOracleDataForPerpMarket: (perpMarket, oracle, stateOrRails) => {
    if (!perpMarket || !oracle || !stateOrRails) {
      throw new HarnessError('getMMOracleDataForPerpMarket(perpMarket, oracle, state)');
    }
    const state = 'oracleGuardRails' in stateOrRails
      ? stateOrRails : { oracleGuardRails: stateOrRails };
    const marked = { ...oracle, [ORACLE_MARKER]: true };
    const client = {
      getPerpMarketAccount: () => perpMarket,
      getOracleDataForPerpMarket: () => marked,
      accountSubscriber: { getStateAccountAndSlot: () => ({ data: state, slot: 0 }) },
    };
    const result = sdk.DriftClient.prototype.getMMOracleDataForPerpMarket.call(
      client, perpMarket.marketIndex
    );
    const mmOracleUsed = !(ORACLE_MARKER in result);
    const { [ORACLE_MARKER]: _marker, ...data } = result;
    return { ...data, mmOracleUsed };
  },
};

function lookup(name) {
  if (typeof name !== 'string') throw new HarnessError('a call needs "fn": a function name');
  if (Object.prototype.hasOwnProperty.call(HARNESS_FUNCTIONS, name)) return HARNESS_FUNCTIONS[name];
  if (Object.prototype.hasOwnProperty.call(sdk, name) && typeof sdk[name] === 'function') {
    return sdk[name];
  }
  throw new HarnessError(`unknown function ${name}`);
}

// The wall clock, pinned per call: one Date subclass reading `pinnedMs` when set.
const RealDate = Date;
let pinnedMs = null;
class PinnedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0 && pinnedMs !== null) super(pinnedMs);
    else super(...args);
  }

  static now() {
    return pinnedMs === null ? RealDate.now() : pinnedMs;
  }
}

function withClock(now, fn) {
  if (now === undefined || now === null) return fn();
  if (!Number.isSafeInteger(now)) throw new HarnessError(`"now" must be integer seconds, got ${now}`);
  pinnedMs = now * 1000;
  globalThis.Date = PinnedDate;
  try {
    return fn();
  } finally {
    globalThis.Date = RealDate;
    pinnedMs = null;
  }
}

function runCall(call) {
  try {
    if (call === null || typeof call !== 'object' || Array.isArray(call)) {
      throw new HarnessError('a call is an object {"fn", "args", "now"?}');
    }
    const fn = lookup(call.fn);
    const rawArgs = call.args === undefined ? [] : call.args;
    if (!Array.isArray(rawArgs)) throw new HarnessError('"args" must be an array');
    const args = rawArgs.map(wire.decodeArg);
    return { ok: wire.encodeResult(withClock(call.now, () => fn(...args))) };
  } catch (exc) {
    return { error: wire.encodeError(exc) };
  }
}

function protocolError(id, message) {
  return { id, error: { type: 'ProtocolError', message } };
}

function handleLine(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (exc) {
    return protocolError(null, `not JSON: ${exc.message}`);
  }
  const id = request !== null && typeof request === 'object' && 'id' in request ? request.id : null;
  if (id === null || !Array.isArray(request.calls)) {
    return protocolError(id, 'a request is {"id": N, "calls": [...]}');
  }
  return { id, results: request.calls.map(runCall) };
}

process.on('uncaughtException', (exc) => console.error('harness: uncaught', exc));
process.on('unhandledRejection', (exc) => console.error('harness: unhandled rejection', exc));

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', (line) => {
  if (line.trim() === '') return;
  let reply;
  try {
    reply = JSON.stringify(handleLine(line));
  } catch (exc) {
    reply = JSON.stringify(protocolError(null, `reply failed: ${exc.message}`));
  }
  writeReply(reply + '\n');
});
input.on('close', () => process.exit(0));

writeReply(JSON.stringify({ ready: true, sdk: SDK_VERSION, node: process.version }) + '\n');
