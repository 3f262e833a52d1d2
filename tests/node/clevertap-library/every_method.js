// Every public method of CleverTap's Node library (npm clevertap 1.3.0), unchanged, against the CleverTap emulator.
//
// The library only speaks HTTPS to https://<region>.api.clevertap.com/1/...; its node-fetch 2 looks up
// `https.request` on every call, so replacing that one function sends each request to the emulator at
// CLEVERTAP_EMULATOR_URL (http://127.0.0.1:PORT/clevertap) with the region as the first path segment
// (clevertap-api.md §16). Everything else, URLs, query strings, bodies, batching and paging, is the library's own.
//
// Usage: CLEVERTAP_EMULATOR_URL=... CLEVERTAP_ACCOUNT_ID=... CLEVERTAP_PASSCODE=... node every_method.js, with
// CLEVERTAP_DEFAULT_TARGET_MODE=push when the sandbox runs with default_target_mode="push". The sandbox must answer
// counts at once (count_partial_polls=0): the library never polls a req_id (§16), so it would return `partial`.
// Prints one JSON line {"passed": [method, ...]} and exits 0, or throws (exit 1) at the first wrong answer.
"use strict";

const assert = require("node:assert/strict");
const http = require("node:http");
const https = require("node:https");

const emulator = new URL(process.env.CLEVERTAP_EMULATOR_URL);
const seen = [];

https.request = function (options, callback) {
  const region = String(options.hostname).split(".")[0];
  assert.equal(String(options.hostname), `${region}.api.clevertap.com`, "the library only calls CleverTap's hosts");
  seen.push(`${options.method} ${options.path}`);
  return http.request(
    {
      ...options,
      protocol: "http:",
      hostname: emulator.hostname,
      host: emulator.hostname,
      port: emulator.port,
      path: `${emulator.pathname.replace(/\/$/, "")}/${region}${options.path}`,
      agent: undefined,
    },
    callback
  );
};

const CleverTap = require("clevertap");
const ct = CleverTap.init(process.env.CLEVERTAP_ACCOUNT_ID, process.env.CLEVERTAP_PASSCODE, CleverTap.REGIONS.EUROPE);

const passed = [];
const today = new Date();
const ymd = (date) => Number(date.toISOString().slice(0, 10).replace(/-/g, ""));
const daysAgo = (days) => ymd(new Date(today.getTime() - days * 86400000));
const CHARGED = { event_name: "Charged", from: daysAgo(30), to: ymd(today) };

async function main() {
  // Lookups by each kind of id.
  const byIdentity = await ct.profile({ identity: "u-1001" });
  assert.equal(byIdentity.status, "success", JSON.stringify(byIdentity));
  assert.equal(byIdentity.record.identity, "u-1001");
  const email = byIdentity.record.email;
  const objectId = byIdentity.record.platformInfo[0].objectId;
  const byEmail = await ct.profile({ email });
  assert.equal(byEmail.record.identity, "u-1001");
  const byObjectId = await ct.profile({ objectId });
  assert.equal(byObjectId.record.identity, "u-1001");
  passed.push("profile");

  // Exports: the GET form with batch_size and query, then cursors verbatim.
  const events = await ct.events(CHARGED, { batchSize: 7 });
  assert.ok(Array.isArray(events) && events.length > 7, `events paged over several cursors: ${events.length}`);
  assert.ok(events.every((record) => record.profile && record.event_props && Number.isInteger(record.ts)));
  passed.push("events");
  const profiles = await ct.profiles(CHARGED, { batchSize: 23 });
  const buyers = new Set(events.map((record) => record.profile.identity));
  assert.equal(profiles.length, buyers.size);
  assert.deepEqual(new Set(profiles.map((record) => record.identity)), buyers);
  passed.push("profiles");

  // Counts agree with the exports.
  const eventCount = await ct.getEventsCount(CHARGED);
  assert.deepEqual(eventCount, { status: "success", count: events.length });
  passed.push("getEventsCount");
  const profileCount = await ct.getProfilesCount(CHARGED);
  assert.deepEqual(profileCount, { status: "success", count: buyers.size });
  passed.push("getProfilesCount");
  const trend = await ct.trends({ ...CHARGED, groups: { perDay: { trend_type: "daily" } } });
  assert.equal(trend.status, "success", JSON.stringify(trend));
  assert.equal(Object.values(trend.perDay).reduce((a, b) => a + b, 0), events.length);
  passed.push("trends");
  const top = await ct.topPropertyCounts({
    ...CHARGED,
    groups: { byPayment: { property_type: "event_properties", name: "Payment Mode" } },
  });
  assert.equal(top.status, "success", JSON.stringify(top));
  const payments = top.byPayment.STR;
  const expected = {};
  for (const record of events) {
    const mode = record.event_props["Payment Mode"];
    expected[mode] = (expected[mode] || 0) + 1;
  }
  assert.deepEqual(payments, expected);
  passed.push("topPropertyCounts");
  const now = await ct.realTimeCounts({ user_type: true });
  assert.equal(now.status, "success");
  assert.ok(Number.isInteger(now.count));
  assert.deepEqual(Object.keys(now.user_type).sort(), ["addressable", "customer", "new", "repeat"]);
  passed.push("realTimeCounts");
  const reports = await ct.getMessageReports({ from: String(daysAgo(30)), to: String(ymd(today)) });
  assert.equal(reports.status, "success");
  assert.ok(reports.messages.length > 0);
  passed.push("getMessageReports");

  // Uploads: 150 events go out as two batches of at most 100, and a count sees all of them.
  const stamp = Math.floor(Date.now() / 1000);
  const batch = Array.from({ length: 150 }, (_, i) => ({
    type: "event",
    identity: "node-library-buyer",
    ts: stamp - i,
    evtName: "Node Library Purchase",
    evtData: { Amount: i },
  }));
  const uploaded = await ct.upload(batch);
  assert.deepEqual(uploaded, [
    { status: "success", processed: 100, unprocessed: [] },
    { status: "success", processed: 50, unprocessed: [] },
  ]);
  const purchases = await ct.getEventsCount({ event_name: "Node Library Purchase", from: ymd(today), to: ymd(today) });
  assert.deepEqual(purchases, { status: "success", count: 150 });
  passed.push("upload");
  const purchaseRecords = await ct.events({ event_name: "Node Library Purchase", from: ymd(today), to: ymd(today) });
  assert.equal(purchaseRecords.length, 150);
  const buyerId = purchaseRecords[0].profile.objectId;
  const token = { type: "token", objectId: buyerId, tokenData: { id: "node-library-fcm-token", type: "fcm" } };
  const tokenAnswer = await ct.uploadDeviceTokens([token]);
  assert.deepEqual(tokenAnswer, { status: "success", processed: 1, unprocessed: [] });
  passed.push("uploadDeviceTokens");

  // Subscriptions and identities.
  const dnd = await ct.subscribe({ d: [{ type: "phone", value: "+447700900321", status: "Unsubscribe" }] });
  assert.deepEqual(dnd, { status: "success", processed: 1, unprocessed: [] });
  passed.push("subscribe");
  const owner = await ct.upload([{ type: "profile", identity: "+447700900321", profileData: { Name: "Old Owner" } }]);
  assert.deepEqual(owner, { status: "success", processed: 1, unprocessed: [] });
  // profile() puts the id into the query unencoded (§16), where "+" would read as a space: encode it first.
  const phoneIdentity = encodeURIComponent("+447700900321");
  assert.equal((await ct.profile({ identity: phoneIdentity })).status, "success");
  const detached = await ct.disassociate({ d: [{ type: "phone", value: "+447700900321" }] });
  assert.deepEqual(detached, { status: "success", processed: 1, unprocessed: [] });
  assert.equal((await ct.profile({ identity: phoneIdentity })).status, "fail");
  passed.push("disassociate");
  const demerged = await ct.demerge({ identities: "u-1002" });
  assert.deepEqual(demerged, { status: "success" });
  assert.equal((await ct.profile({ identity: "u-1002" })).status, "fail");
  passed.push("demerge");
  const deleted = await ct.delete({ identity: "u-1003" });
  assert.equal(deleted.status, "success");
  assert.equal((await ct.profile({ identity: "u-1003" })).status, "fail");
  passed.push("delete");

  // Campaigns: list, result, estimate, create, stop.
  const listed = await ct.targets(ct.TARGET_LIST, { from: daysAgo(30), to: ymd(today) });
  assert.equal(listed.status, "success");
  const completed = listed.targets.find((target) => target.status === "completed");
  assert.ok(completed, JSON.stringify(listed.targets));
  const result = await ct.targets(ct.TARGET_RESULT, { id: completed.id });
  assert.equal(result.status, "success");
  assert.ok(Number.isInteger(result.result.sent) && Number.isInteger(result.result.clicked));
  const campaign = () => ({
    name: "Node library check",
    target_mode: "push",
    where: { event_name: "Charged", from: daysAgo(30), to: ymd(today) },
    content: { title: "Hello", body: "A test push" },
    devices: ["android", "ios"],
    when: "now",
  });
  const estimate = await ct.targets(ct.TARGET_ESTIMATE, campaign());
  assert.equal(estimate.status, "success");
  assert.equal(estimate.id, undefined);
  assert.ok(Number.isInteger(estimate.estimates.android) && Number.isInteger(estimate.estimates.ios));
  // The old push-only payload without target_mode (§16): refused unless the sandbox's default_target_mode is set.
  const { target_mode: _mode, ...oldStyle } = campaign();
  const oldEstimate = await ct.targets(ct.TARGET_ESTIMATE, oldStyle);
  if (process.env.CLEVERTAP_DEFAULT_TARGET_MODE === "push") {
    assert.deepEqual(oldEstimate, estimate);
  } else {
    assert.equal(oldEstimate.status, "fail");
    assert.match(oldEstimate.error, /target_mode/);
  }
  const created = await ct.targets(ct.TARGET_CREATE, campaign());
  assert.equal(created.status, "success");
  assert.deepEqual(created.estimates, estimate.estimates);
  const stopped = await ct.targets(ct.TARGET_STOP, { id: created.id });
  assert.deepEqual(stopped, { status: "success" });
  const after = await ct.targets(ct.TARGET_LIST, { from: ymd(today), to: ymd(today) });
  assert.deepEqual(
    after.targets.filter((target) => target.id === created.id).map((target) => target.status),
    ["stopped"]
  );
  passed.push("targets");

  assert.ok(seen.some((line) => line.startsWith("GET /1/events.json?batch_size=7&query=")), "exports start with a GET");
  process.stdout.write(JSON.stringify({ passed, requests: seen.length }) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
