"use strict";
// The device script's modules on their own: the reply decoder against the schema the Python server is
// checked against, pending requests with a test's clock and sender, UI text, marks, and the entry.

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const vm = require("node:vm");
const { DEVICE_JS, REPLY_SCHEMA_JSON, loadModules } = require("../harness/max_env.js");

const schema = JSON.parse(fs.readFileSync(REPLY_SCHEMA_JSON, "utf8"));

test("every reply of the shared schema decodes into a record named by the schema", () => {
    const { Protocol } = loadModules(["protocol.js"]);
    assert.ok(Object.keys(schema.replies).length >= 8);
    for (const [name, spec] of Object.entries(schema.replies)) {
        const record = Protocol.decode(schema.prefix + name, spec.example);
        assert.ok(record, name);
        assert.equal(record.reply, name);
        spec.args.forEach((arg, i) => assert.equal(record[arg.name], spec.example[i], `${name}.${arg.name}`));
        const rest = spec.example.slice(spec.args.length);
        if (spec.rest && spec.rest.kind === "text") assert.equal(record[spec.rest.name], rest.join(" "));
        if (spec.rest && spec.rest.kind === "pairs") {
            assert.deepEqual(JSON.parse(JSON.stringify(record[spec.rest.name])),
                [{ name: rest[0], value: rest[1] }, { name: rest[2], value: rest[3] }]);
        }
    }
});

test("the decoder casts as Max delivers atoms, joins split text and refuses what is not a reply", () => {
    const { Protocol } = loadModules(["protocol.js"]);
    const r = Protocol.decode("/loopbridge/error", ["17", "missing", "/take", "1.wav:", "file", "not", "found"]);
    assert.equal(r.id, 17);
    assert.equal(r.message, "/take 1.wav: file not found");
    assert.equal(Protocol.decode("/loopbridge/error", ["take-a", "busy"]).id, "take-a");
    assert.equal(Protocol.decode("/live/song/tempo", [120]), null, "someone else's traffic");
    assert.equal(Protocol.decode("/loopbridge/result", [17, "/take.wav"]), null, "too few arguments");
    assert.equal(Protocol.decode("/loopbridge/unheard_of", [17]), null);
    assert.deepEqual(Array.from(Protocol.request("score", [17, "/t.wav"], 9123)), ["/loopbridge/score", 17, "/t.wav", 9123]);
    assert.deepEqual(Array.from(Protocol.request("ping", [], null)), ["/loopbridge/ping"]);
});

function fakeRequests() {
    const sent = [];
    const clock = { t: 1000 };
    const { Requests } = loadModules(["requests.js"]);
    const requests = Requests.create({
        now: () => clock.t, send: (command, args) => sent.push([command, ...args]), model: () => "", firstId: 500,
    });
    return { requests, sent, clock, Requests };
}

test("pending takes: numbered from the device's base, resent on reconnect, dropped after the timeout", () => {
    const { requests, sent, clock, Requests } = fakeRequests();
    const id = requests.take({ clips: [9], name: "Bass 1", path: "/t.wav", words: ["bpm", 120] });
    assert.equal(id, 500);
    assert.deepEqual(sent, [["score", 500, "/t.wav", "bpm", 120]]);
    clock.t += 1000;
    requests.resendTakes();
    assert.equal(sent.length, 2);
    assert.equal(requests.get(500).sentAt, 2000);
    clock.t += Requests.TAKE_TIMEOUT_MS;
    assert.deepEqual(Array.from(requests.dropStale()), [], "not yet: the timeout runs from the resend");
    clock.t += 1;
    assert.deepEqual(Array.from(requests.dropStale()), ["Bass 1"]);
    assert.equal(requests.count(), 0);
});

test("reasons wait for their result and come back most severe first", () => {
    const { requests } = fakeRequests();
    const id = requests.take({ clips: [], name: "x", path: "/x.wav", words: [] });
    requests.addReason(id, { kind: "level", severity: 0.4 });
    requests.addReason(id, { kind: "clipping", severity: 0.9 });
    assert.deepEqual(Array.from(requests.takeReasons(id), (r) => r.kind), ["clipping", "level"]);
    assert.deepEqual(Array.from(requests.takeReasons(id)), [], "read once");
});

test("a batch run counts across its datagrams and finishes with its last", () => {
    const { requests, sent } = fakeRequests();
    const paths = Array.from({ length: 400 }, (_, i) => `/takes/a rather long folder name/take ${i}.wav`);
    const byPath = Object.fromEntries(paths.map((p, i) => [p, [i]]));
    const first = requests.batch(paths, byPath);
    const batches = sent.filter((m) => m[0] === "batch");
    assert.ok(batches.length >= 2);
    assert.equal(first.total, 400);
    const [a, b] = batches.map((m) => m[1]);
    assert.equal(requests.batchResult(a, true).flagged, 1);
    assert.equal(requests.batchEnd(a).finished, false);
    assert.equal(requests.batchProgress(b, 1, batches[1].length - 2).done, batches[0].length - 2 + 1);
    assert.equal(requests.batchEnd(b).finished, batches.length === 2);
    assert.equal(requests.batchResult(a, true), null, "a finished batch's late answer is ignored");
});

test("UI text and marks come from records alone", () => {
    const { Ui, Marks } = loadModules(["lom.js", "ui.js", "marks.js"], { LiveAPI: class {} });
    const result = { score: 3.21, threshold: 1.5, flag: true, model: "bass", ms: 12.5, reasons: [{ kind: "clipping", severity: 0.9, start_s: 2.31, message: "clipped" }] };
    assert.equal(Ui.result("Bass 4", result, 40), "Bass 4: score 3.2 / threshold 1.5 \u2014 FLAGGED \u00B7 bass \u00B7 40 ms (server 13 ms)");
    assert.equal(Ui.reasons(result), "clipping at 2.31 s (90%): clipped");
    assert.equal(Marks.wantedName("Bass 4", result, { ascii: 0 }), "\u26A0 2.1\u00D7 clipping \u00B7 Bass 4");
    assert.equal(Marks.wantedName("\u26A0 2.1\u00D7 clipping \u00B7 Bass 4", result, { ascii: 1 }), "! 2.1x clipping | Bass 4");
    assert.equal(Marks.wantedName("! 2.1x clipping | Bass 4", { ...result, flag: false }, { markOk: 0 }), "Bass 4");
});

test("the assembled script's only global functions are the device's messages", () => {
    const ctx = vm.createContext({ outlet() {}, post() {}, setinletassist() {}, setoutletassist() {}, arrayfromargs: (a) => [...a] });
    vm.runInContext(fs.readFileSync(DEVICE_JS, "utf8"), ctx);
    const functions = Object.keys(ctx).filter((k) => typeof ctx[k] === "function" && !["outlet", "post", "setinletassist", "setoutletassist", "arrayfromargs"].includes(k));
    assert.deepEqual(functions.sort(), ["anything", "asciimarks", "init", "markcolour", "markok", "marks", "replyport",
        "savedmodel", "scoretrack", "sensitivity", "setmodel"]);
});

test("where a take stands among its part: the server's comparison when it sends one, else its first musical departure", () => {
    const { Ui } = loadModules(["ui.js"]);
    const r = { reasons: [{ kind: "buzz", start_s: 3.2 }, { kind: "wrong_note", start_s: 1.25 }, { kind: "clipping", start_s: 0.1 }] };
    assert.equal(Ui.takeLine({ number: 3, of: 4 }, { reasons: [] }, { message: "tightest so far" }), "take 3 of 4: tightest so far");
    assert.equal(Ui.takeLine({ number: 3, of: 4 }, r, { message: "", measure: "timing", departs_s: 2.5 }), "take 3 of 4: departs at 2.50 s (timing)");
    assert.equal(Ui.takeLine({ number: 2, of: 2 }, r, undefined), "take 2 of 2: departs at 1.25 s (wrong note)");
    assert.equal(Ui.takeLine({ number: 4, of: 4 }, { reasons: [] }, { message: "", rank: 1, of: 4, departs_s: -1 }), "take 4 of 4: tightest so far");
    assert.equal(Ui.takeLine({ number: 2, of: 2 }, { reasons: [{ kind: "missing_note", start_s: 0.5 }] }), "take 2 of 2: departs at 0.50 s (missing note)");
    assert.equal(Ui.takeLine({ number: 2, of: 2 }, { reasons: [{ kind: "clipping", start_s: 0.1 }] }), "take 2 of 2");
});

test("the musical context a take was judged against, from the server's `context` reply", () => {
    const { Protocol, Ui } = loadModules(["protocol.js", "ui.js"]);
    const c = Protocol.decode("/loopbridge/context", [7, 96, "G minor", "4/4", "request", "estimate", "default"]);
    assert.equal(Ui.judged(c), "judged at 96 BPM (from Live), G minor (estimated), 4/4 (assumed)");
    const unknown = Protocol.decode("/loopbridge/context", [7, -1, "", "4/4", "unknown", "unknown", "default"]);
    assert.equal(Ui.judged(unknown), "judged at tempo unknown, key unknown, 4/4 (assumed)");
    const r = Protocol.decode("/loopbridge/compare", [7, 2, 4, "wrong_note", 3.1, "E", "at", "3.10", "s", "where", "the", "other", "takes", "play", "F"]);
    assert.equal(r.rank, 2);
    assert.equal(r.of, 4);
    assert.equal(Ui.takeLine({ number: 4, of: 4 }, { reasons: [] }, r), "take 4 of 4: E at 3.10 s where the other takes play F");
    assert.equal(Ui.takeLine({ number: 4, of: 4 }, { reasons: [] }, { message: "", rank: 2, of: 4, measure: "wrong_note", departs_s: 3.1 }),
        "take 4 of 4: departs at 3.10 s (wrong note)");
});
