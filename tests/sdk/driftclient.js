// The official SDK's DriftClient against an RPC, answering JSON lines on stdin/stdout.
//
//   {"cmd": "subscribe", "url": "http://127.0.0.1:8899"}       -> {"ok": true}
//   {"cmd": "figures", "now": 1795500000}                      -> {"perps": [...], "spots": [...]}
//   {"cmd": "compute", "perps": [...], "spots": [...]}         -> {"perps": [...], "spots": [...]}
//   {"cmd": "close"}                                            -> {"ok": true}, then exit
//
// `figures` gives, for every perp and spot market the subscribed DriftClient holds, what
// Drift's own code computes at unix time `now`: the MM-oracle choice, bid/ask (the wall
// clock the SDK reads inside calculateSpread is pinned to `now`), the live funding
// estimate and the time to the next funding update, spot utilization and rates; with
// the raw account fields the project publishes and the slots of the account versions
// used. `compute` does the same from given account bytes (base64), with no RPC: each
// perp item is {market, oracle, oracle_source, state, now, market_slot, oracle_slot},
// each spot item {market, oracle, oracle_source, market_slot, oracle_slot}. Every integer
// is a decimal string. A failure of one market is reported in its entry.
'use strict';

const readline = require('readline');
const sdk = require('@drift-labs/sdk');
const { BN } = require('@coral-xyz/anchor');
const { Connection, Keypair } = require('@solana/web3.js');

const RealDate = Date;
let client = null;
const offline = new sdk.DriftClient({
	connection: new Connection('http://127.0.0.1:1'),
	wallet: new sdk.Wallet(Keypair.generate()),
	env: 'mainnet-beta',
});
const coder = offline.program.coder.accounts;

function pinClock(ms) {
	global.Date = class extends RealDate {
		constructor(...args) {
			if (args.length === 0) super(ms);
			else super(...args);
		}
		static now() {
			return ms;
		}
	};
}

const str = (x) => (x === undefined || x === null ? null : x.toString());

function attempt(fn) {
	try {
		return { ok: fn() };
	} catch (e) {
		return { error: String((e && e.message) || e) };
	}
}

const variantName = (e) => Object.keys(e)[0];

// One perp market at `now`: `mmOracle()` is the DriftClient's getMMOracleDataForPerpMarket
// (the subscribed client's own, or the same method on the given accounts).
function perpFigures(market, marketSlot, oracle, oracleSlot, mmOracle, now) {
	const amm = market.amm;
	const out = {
		market_index: market.marketIndex,
		symbol: sdk.decodeName(market.name),
		status: variantName(market.status),
		contract_type: variantName(market.contractType),
		market_slot: str(marketSlot),
		oracle_slot: str(oracleSlot),
		last_funding_rate: str(amm.lastFundingRate),
		last_funding_rate_long: str(amm.lastFundingRateLong),
		last_funding_rate_short: str(amm.lastFundingRateShort),
		last24h_avg_funding_rate: str(amm.last24HAvgFundingRate),
		last_funding_rate_ts: str(amm.lastFundingRateTs),
		last_funding_oracle_twap: str(amm.lastFundingOracleTwap),
		last_oracle_price_twap: str(amm.historicalOracleData.lastOraclePriceTwap),
		funding_period: str(amm.fundingPeriod),
		base_asset_amount_long: str(amm.baseAssetAmountLong),
		base_asset_amount_short: str(amm.baseAssetAmountShort),
		mm_oracle_price: amm.mmOracleSlot.isZero() ? null : str(amm.mmOraclePrice),
		time_remaining: str(
			sdk.timeRemainingUntilUpdate(new BN(now), amm.lastFundingRateTs, amm.fundingPeriod)
		),
	};
	if (!oracle) return out;
	out.oracle_price = str(oracle.price);
	pinClock(now * 1000);
	try {
		const mm = attempt(mmOracle);
		if (mm.error) {
			out.error = mm.error;
			return out;
		}
		// The MM branch returns a new object without the oracle's own fields.
		out.mm_oracle_used =
			mm.ok.price.eq(amm.mmOraclePrice) &&
			mm.ok.slot.eq(amm.mmOracleSlot) &&
			!('twap' in mm.ok) &&
			!('sequenceId' in mm.ok) &&
			!('maxPrice' in mm.ok);
		const prices = attempt(() => sdk.calculateBidAskPrice(amm, mm.ok));
		if (prices.error) {
			out.error = prices.error;
			return out;
		}
		const [bid, ask] = prices.ok;
		out.bid_price = str(bid);
		out.ask_price = str(ask);
		out.mark_price = str(bid.add(ask).div(new BN(2)));
		const live = attempt(() =>
			sdk.calculateLongShortFundingRateAndLiveTwaps(market, mm.ok, oracle, undefined, new BN(now))
		);
		if (live.error) {
			out.error = live.error;
			return out;
		}
		const [markTwap, oracleTwap, longRate, shortRate] = live.ok;
		out.mark_twap_live = str(markTwap);
		out.oracle_twap_live = str(oracleTwap);
		out.predicted_long = str(longRate);
		out.predicted_short = str(shortRate);
	} finally {
		global.Date = RealDate;
	}
	return out;
}

function subscribedPerp(index, now) {
	const ds = client.accountSubscriber.getMarketAccountAndSlot(index);
	const oracleDs = client.accountSubscriber.getOraclePriceDataAndSlotForPerpMarket(index);
	return perpFigures(
		ds.data,
		ds.slot,
		oracleDs && oracleDs.data,
		oracleDs && oracleDs.slot,
		() => client.getMMOracleDataForPerpMarket(index),
		now
	);
}

function decodeOracle(source, base64) {
	const oracleSource = { [source.charAt(0).toLowerCase() + source.slice(1)]: {} };
	const reader = sdk.getOracleClient(oracleSource, offline.connection, offline.program);
	return reader.getOraclePriceDataFromBuffer(Buffer.from(base64, 'base64'));
}

function computedPerp(item) {
	const market = coder.decodeUnchecked('PerpMarket', Buffer.from(item.market, 'base64'));
	if (!item.oracle) return perpFigures(market, item.market_slot, null, null, null, item.now);
	const state = coder.decodeUnchecked('State', Buffer.from(item.state, 'base64'));
	const oracle = attempt(() => decodeOracle(item.oracle_source, item.oracle));
	if (oracle.error) return { market_index: market.marketIndex, error: oracle.error };
	const view = {
		getPerpMarketAccount: () => market,
		getOracleDataForPerpMarket: () => oracle.ok,
		accountSubscriber: { getStateAccountAndSlot: () => ({ data: state, slot: 0 }) },
	};
	const mmOracle = () =>
		sdk.DriftClient.prototype.getMMOracleDataForPerpMarket.call(view, market.marketIndex);
	return perpFigures(market, item.market_slot, oracle.ok, item.oracle_slot, mmOracle, item.now);
}

function spotFigures(spot, marketSlot, oracle, oracleSlot) {
	const out = {
		market_index: spot.marketIndex,
		symbol: sdk.decodeName(spot.name),
		status: variantName(spot.status),
		decimals: spot.decimals,
		market_slot: str(marketSlot),
		oracle_slot: str(oracleSlot),
		oracle_price: oracle ? str(oracle.price) : null,
		total_deposits: str(sdk.getTokenAmount(spot.depositBalance, spot, sdk.SpotBalanceType.DEPOSIT)),
		total_borrows: str(sdk.getTokenAmount(spot.borrowBalance, spot, sdk.SpotBalanceType.BORROW)),
	};
	const rates = attempt(() => [
		sdk.calculateUtilization(spot),
		sdk.calculateDepositRate(spot),
		sdk.calculateBorrowRate(spot),
	]);
	if (rates.error) out.error = rates.error;
	else [out.utilization, out.deposit_rate, out.borrow_rate] = rates.ok.map(str);
	return out;
}

function subscribedSpot(index) {
	const ds = client.accountSubscriber.getSpotMarketAccountAndSlot(index);
	const oracleDs = client.accountSubscriber.getOraclePriceDataAndSlotForSpotMarket(index);
	return spotFigures(ds.data, ds.slot, oracleDs && oracleDs.data, oracleDs && oracleDs.slot);
}

function computedSpot(item) {
	const spot = coder.decodeUnchecked('SpotMarket', Buffer.from(item.market, 'base64'));
	const oracle = attempt(() => decodeOracle(item.oracle_source, item.oracle || ''));
	const reading = oracle.error ? null : oracle.ok;
	return spotFigures(spot, item.market_slot, reading, item.oracle_slot);
}

async function handle(request) {
	if (request.cmd === 'subscribe') {
		const url = new URL(request.url);
		const ws = `ws://${url.hostname}:${Number(url.port) + 1}`;
		const connection = new Connection(request.url, { commitment: 'confirmed', wsEndpoint: ws });
		client = new sdk.DriftClient({
			connection,
			wallet: new sdk.Wallet(Keypair.generate()),
			env: 'mainnet-beta',
			accountSubscription: { type: 'websocket' },
		});
		await client.subscribe();
		return { ok: true };
	}
	if (request.cmd === 'figures') {
		const perps = client.getPerpMarketAccounts().map((m) => subscribedPerp(m.marketIndex, request.now));
		const spots = client.getSpotMarketAccounts().map((m) => subscribedSpot(m.marketIndex));
		return { perps, spots };
	}
	if (request.cmd === 'compute') {
		return {
			perps: (request.perps || []).map(computedPerp),
			spots: (request.spots || []).map(computedSpot),
		};
	}
	if (request.cmd === 'close') {
		if (client) await client.unsubscribe();
		return { ok: true, exit: true };
	}
	return { error: `unknown command ${request.cmd}` };
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
	queue = queue.then(async () => {
		let reply;
		try {
			reply = await handle(JSON.parse(line));
		} catch (e) {
			reply = { error: String((e && e.stack) || e) };
		}
		process.stdout.write(JSON.stringify(reply) + '\n');
		if (reply.exit) process.exit(0);
	});
});
lines.on('close', () => queue.then(() => process.exit(0)));
