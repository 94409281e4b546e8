"use strict";
// The device script under a stand-in Live set: what it sends, and what it does to clips and UI.

const test = require("node:test");
const assert = require("node:assert/strict");
const { FakeLive, Device, OUTLET } = require("../harness/max_env.js");

const NOT_RUNNING = "server not running \u2014 start `loopbridge serve`";
const WARNING_COLOUR = 0xff3636;
// What a default take sends after its path: the region of an unwarped clip, then the song.
const CONTEXT = ["start_s", 0, "end_s", 4, "bpm", 120, "meter", "4/4", "key", "C Major"];

// A device that has found its track and heard back from the server.
function connectedDevice(options) {
    const device = new Device(options);
    device.message("init");
    device.receive("/loopbridge/pong", 1, "0.1.0", "CPUExecutionProvider");
    device.receive("/loopbridge/model", "loops", "mel-stats", "knn", 0.95, "knn", 1.5);
    device.clock.advance(0);
    return device;
}

function lastScore(device) {
    const sent = device.oscTo("/loopbridge/score");
    assert.ok(sent.length > 0, "no score request sent");
    return sent[sent.length - 1];
}

test("a take is sent for scoring when its recording stops, not before", () => {
    const device = connectedDevice();
    const clip = device.live.startRecording(1, { name: "Bass 4", filePath: "/takes/Bass 4.wav" });
    device.clock.advance(0);
    assert.equal(device.oscTo("/loopbridge/score").length, 0);
    device.live.stopRecording(clip);
    assert.equal(device.oscTo("/loopbridge/score").length, 0, "sent from inside the observer callback");
    device.clock.advance(0);
    const sent = device.oscTo("/loopbridge/score");
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].slice(2), ["/takes/Bass 4.wav", ...CONTEXT]);
    assert.ok(Number.isInteger(sent[0][1]) && sent[0][1] > 0 && sent[0][1] < 2 ** 31);
    assert.match(device.text(OUTLET.STATUS), /scoring Bass 4/);
    device.receive("/loopbridge/result", sent[0][1], "/takes/Bass 4.wav", "loops", 0.1, 1.5, 0, 8);
    assert.equal(device.text(OUTLET.STATUS), "watching Bass");
});

test("clips that were not recorded, and MIDI clips, are not sent", () => {
    const device = connectedDevice();
    device.live.dropClip(0, { name: "Loop", filePath: "/lib/loop.wav" });
    device.live.record(1, { name: "Keys", audio: false });
    device.clock.advance(10);
    assert.equal(device.oscTo("/loopbridge/score").length, 0);
});

test("a scene added after loading is watched too", () => {
    const device = connectedDevice();
    const slotIndex = device.live.track.children.clip_slots.length;
    device.live.addSlot();
    device.live.record(slotIndex, { name: "New", filePath: "/takes/new.wav" });
    device.clock.advance(0);
    assert.equal(lastScore(device)[2], "/takes/new.wav");
});

test("a flagged result colours the clip (Colour on) and names it with score and top reason, deferred", () => {
    const device = connectedDevice();
    device.message("markcolour", 1);
    const clip = device.live.record(0, { name: "Bass 4", filePath: "/takes/bass4.wav" });
    device.clock.advance(0);
    const id = lastScore(device)[1];
    device.receive("/loopbridge/reason", id, "dropout", 0.4, 1.2, 0.05, "a gap of 50 ms at 1.20 s");
    device.receive("/loopbridge/reason", id, "clipping", 0.9, 2.31, 0.01, "clipped 34 samples around 2.31 s");
    device.clock.advance(40);
    device.receive("/loopbridge/result", id, "/takes/bass4.wav", "loops", 3.21, 1.5, 1, 12.5);
    assert.equal(clip.props.name, "Bass 4", "clip changed before the deferred task ran");
    device.clock.advance(0);
    assert.equal(clip.props.name, "\u26A0 2.1\u00D7 clipping \u00B7 Bass 4"); // 3.21 / 1.5
    assert.equal(clip.props.color, WARNING_COLOUR);
    assert.deepEqual(device.live.violations, []);
    const result = device.text(OUTLET.RESULT);
    assert.match(result, /Bass 4: score 3\.2 \/ threshold 1\.5 \u2014 FLAGGED/);
    assert.match(result, /40 ms \(server 13 ms\)/);
    const reasons = device.text(OUTLET.REASONS).split("\n");
    assert.equal(reasons.length, 2);
    assert.match(reasons[0], /^clipping at 2\.31 s \(90%\): clipped 34 samples around 2\.31 s$/);
    assert.match(reasons[1], /^dropout at 1\.20 s \(40%\): a gap of 50 ms/);
});

test("re-scoring replaces the marker instead of stacking it, and a clean result restores the clip", () => {
    const device = connectedDevice();
    const clip = device.live.record(0, { name: "Gtr 2", filePath: "/takes/gtr2.wav" });
    device.clock.advance(0);
    device.receive("/loopbridge/result", lastScore(device)[1], "/takes/gtr2.wav", "loops", 2.0, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(clip.props.name, "\u26A0 1.3\u00D7 \u00B7 Gtr 2");
    device.message("scoretrack");
    const batch = device.oscTo("/loopbridge/batch")[0];
    device.receive("/loopbridge/result", batch[1], "/takes/gtr2.wav", "loops", 4.5, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(clip.props.name, "\u26A0 3\u00D7 \u00B7 Gtr 2");
    device.message("scoretrack");
    const again = device.oscTo("/loopbridge/batch")[1];
    device.receive("/loopbridge/result", again[1], "/takes/gtr2.wav", "loops", 0.7, 1.5, 0, 9);
    device.clock.advance(0);
    assert.equal(clip.props.name, "Gtr 2");
    assert.equal(clip.props.color, 0x3c8cc8);
    assert.deepEqual(device.live.violations, []);
});

test("a normal result leaves the clip as it was; Mark OK adds a check mark", () => {
    const device = connectedDevice();
    const clip = device.live.record(0, { name: "Bass 5", filePath: "/takes/bass5.wav" });
    device.clock.advance(0);
    device.receive("/loopbridge/result", lastScore(device)[1], "/takes/bass5.wav", "loops", 0.41, 1.5, 0, 8);
    device.clock.advance(0);
    assert.equal(device.live.sets.length, 0);
    assert.equal(clip.props.name, "Bass 5");
    assert.match(device.text(OUTLET.RESULT), /Bass 5: score 0\.41 \/ threshold 1\.5 \u2014 ok/);
    assert.equal(device.text(OUTLET.REASONS), "no problems found");

    device.message("markok", 1);
    const other = device.live.record(1, { name: "Bass 6", filePath: "/takes/bass6.wav" });
    device.clock.advance(0);
    device.receive("/loopbridge/result", lastScore(device)[1], "/takes/bass6.wav", "loops", 0.5, 1.5, 0, 8);
    device.clock.advance(0);
    assert.equal(other.props.name, "\u2713 0.33\u00D7 \u00B7 Bass 6");
    assert.notEqual(other.props.color, WARNING_COLOUR);
});

test("a server error is shown in words and leaves the clip alone", () => {
    const device = connectedDevice();
    const clip = device.live.record(0, { name: "Vox 1", filePath: "/takes/vox1.wav" });
    device.clock.advance(0);
    const id = lastScore(device)[1];
    device.receive("/loopbridge/error", id, "incomplete", "the file is still being written after 3 s");
    device.clock.advance(0);
    assert.equal(device.text(OUTLET.STATUS), "Vox 1: the file is still being written after 3 s (incomplete)");
    assert.equal(clip.props.name, "Vox 1");
    assert.equal(device.live.sets.length, 0);
    // The take is settled: a late result for it changes nothing.
    device.receive("/loopbridge/result", id, "/takes/vox1.wav", "loops", 9, 1.5, 1, 8);
    device.clock.advance(0);
    assert.equal(clip.props.name, "Vox 1");
});

test("no server: the device says so, keeps the take, and sends it when the server appears", () => {
    const device = new Device();
    device.message("init");
    assert.deepEqual(device.oscTo("/loopbridge/ping").length, 1);
    assert.equal(device.text(OUTLET.CONNECTION), "connecting\u2026");
    device.clock.advance(2999);
    assert.equal(device.text(OUTLET.CONNECTION), "connecting\u2026");
    device.clock.advance(1);
    assert.equal(device.text(OUTLET.CONNECTION), NOT_RUNNING);
    assert.match(device.text(OUTLET.STATUS), /LiveOSC uses 9000\), run `loopbridge serve --port N`/);
    assert.equal(device.oscTo("/loopbridge/ping").length, 2, "keeps pinging");

    device.live.record(0, { name: "Bass 7", filePath: "/takes/bass7.wav" });
    device.clock.advance(60000);
    assert.equal(device.text(OUTLET.CONNECTION), NOT_RUNNING);
    assert.equal(device.oscTo("/loopbridge/score").length, 1);

    device.receive("/loopbridge/pong", 1, "0.1.0", "CUDAExecutionProvider");
    assert.equal(device.text(OUTLET.CONNECTION), "connected \u00B7 loopbridge 0.1.0 \u00B7 CUDAExecutionProvider");
    assert.equal(device.oscTo("/loopbridge/models").length, 1);
    const [first, again] = device.oscTo("/loopbridge/score");
    assert.deepEqual(again, first, "the same request, sent again");
});

test("a take with no answer while the server answers pings is reported and dropped", () => {
    const device = connectedDevice();
    device.live.record(0, { name: "Bass 8", filePath: "/takes/bass8.wav" });
    for (let t = 0; t < 11; t++) {
        device.clock.advance(3000);
        device.receive("/loopbridge/pong", 1, "0.1.0", "CPUExecutionProvider");
    }
    assert.equal(device.text(OUTLET.STATUS), "Bass 8: no answer from the server");
});

test("Score track sends every audio clip of the track in a batch and shows progress", () => {
    const device = connectedDevice();
    const a = device.live.dropClip(0, { name: "A", filePath: "/lib/a.wav" });
    const b = device.live.dropClip(2, { name: "B", filePath: "/lib/b.wav" });
    device.live.record(3, { name: "Keys", audio: false });
    const arr = device.live.addArrangementClip({ name: "Arr", filePath: "/lib/arr.wav" });
    device.clock.advance(0);
    device.message("scoretrack");
    const batches = device.oscTo("/loopbridge/batch");
    assert.equal(batches.length, 1);
    const [, id, ...paths] = batches[0];
    assert.deepEqual(paths.sort(), ["/lib/a.wav", "/lib/arr.wav", "/lib/b.wav"]);
    assert.equal(device.text(OUTLET.STATUS), "track: 0 / 3 scored");
    device.receive("/loopbridge/progress", id, 1, 3);
    assert.equal(device.text(OUTLET.STATUS), "track: 1 / 3 scored");
    device.receive("/loopbridge/reason", id, "dc_offset", 0.8, 0, 4, "DC offset of 0.12");
    device.receive("/loopbridge/result", id, "/lib/b.wav", "loops", 2.5, 1.5, 1, 30);
    device.receive("/loopbridge/result", id, "/lib/a.wav", "loops", 0.5, 1.5, 0, 30);
    device.receive("/loopbridge/result", id, "/lib/arr.wav", "loops", 0.6, 1.5, 0, 30);
    device.receive("/loopbridge/progress", id, 3, 3);
    assert.equal(device.text(OUTLET.STATUS), "track: 3 / 3 scored, 1 flagged");
    device.receive("/loopbridge/done", id, 3, 1, 0);
    device.clock.advance(0);
    assert.equal(device.text(OUTLET.STATUS), "track done: 3 scored, 1 flagged");
    assert.equal(b.props.name, "\u26A0 1.7\u00D7 dc_offset \u00B7 B");
    assert.equal(a.props.name, "A");
    assert.equal(arr.props.name, "Arr");
    assert.deepEqual(device.live.violations, []);
});

test("a long track is split into batches that each fit a datagram", () => {
    const device = connectedDevice({ live: new FakeLive({ slots: 64 }) });
    const longDir = "/Users/someone/Music/Ableton/Projects/Ein sehr langer Projektname \u00e4\u00f6\u00fc\u00df \u6f14\u594f Project/Samples/Recorded/";
    for (let i = 0; i < 64; i++) device.live.dropClip(i, { name: `T${i}`, filePath: `${longDir}take ${i}.wav` });
    device.message("scoretrack");
    const batches = device.oscTo("/loopbridge/batch");
    assert.ok(batches.length >= 2);
    const sent = batches.flatMap((b) => b.slice(2));
    assert.equal(new Set(sent).size, 64);
    for (const b of batches) assert.ok(Buffer.byteLength(b.join("    ")) < 7000);
    for (const b of batches) device.receive("/loopbridge/done", b[1], b.length - 2, 0, 0);
    assert.equal(device.text(OUTLET.STATUS), "track done: 0 scored, 0 flagged");
});

test("the saved sensitivity and model reach the server once it answers", () => {
    const device = new Device();
    device.message("savedmodel", "guitars");
    device.message("sensitivity", 0.99);
    device.message("init");
    assert.equal(device.oscTo("/loopbridge/sensitivity").length, 0);
    device.receive("/loopbridge/pong", 1, "0.1.0", "CPUExecutionProvider");
    device.receive("/loopbridge/model", "loops", "mel-stats", "knn", 0.95, "knn", 1.5);
    device.receive("/loopbridge/model", "guitars", "mel-stats", "knn", 0.95, "knn", 2.5);
    assert.deepEqual(device.oscTo("/loopbridge/sensitivity"), [["/loopbridge/sensitivity", "guitars", 0.99]]);
    const menu = device.outputs.filter((o) => o.outlet === OUTLET.MODELS).map((o) => o.args.join(" "));
    assert.deepEqual(menu.slice(-4), ["clear", "append loops", "append guitars", "setsymbol guitars"]);
    device.live.record(0, { name: "G", filePath: "/takes/g.wav" });
    device.clock.advance(0);
    assert.deepEqual(lastScore(device).slice(2), ["/takes/g.wav", "guitars", ...CONTEXT]);
});

test("choosing a model in the menu stores it with the set and scores with it", () => {
    const device = connectedDevice();
    device.message("setmodel", "drums");
    const saved = device.outputs.filter((o) => o.outlet === OUTLET.SAVED_MODEL);
    assert.deepEqual(saved[saved.length - 1].args, ["set", "savedmodel", "drums"]);
    device.message("sensitivity", 0.9);
    assert.deepEqual(device.oscTo("/loopbridge/sensitivity").pop(), ["/loopbridge/sensitivity", "drums", 0.9]);
    device.live.record(0, { name: "D", filePath: "/takes/d.wav" });
    device.clock.advance(0);
    assert.deepEqual(lastScore(device), ["/loopbridge/score", lastScore(device)[1], "/takes/d.wav", "drums", ...CONTEXT]);
});

test("Arrangement recording: a clip with a new file is scored when it appears, old ones never", () => {
    const device = connectedDevice();
    const old = device.live.addArrangementClip({ name: "Old", filePath: "/takes/old.wav" });
    device.live.recordButton(1);
    const take = device.live.addArrangementClip({ name: "Arr take", filePath: "/takes/arr.wav" });
    assert.equal(device.oscTo("/loopbridge/score").length, 0, "sent from inside the observer callback");
    device.clock.advance(0);
    assert.deepEqual(device.oscTo("/loopbridge/score").map((m) => m[2]), ["/takes/arr.wav"]);
    device.live.recordButton(0);
    device.clock.advance(500);
    assert.equal(device.oscTo("/loopbridge/score").length, 1, "sent twice");
    device.receive("/loopbridge/result", lastScore(device)[1], "/takes/arr.wav", "loops", 5, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(take.props.name, "\u26A0 3.3\u00D7 \u00B7 Arr take");
    assert.equal(old.props.name, "Old");
    assert.equal(device.ctx.Device.deferredCount(), 0, "finished Tasks are let go");
});

test("Live 10 (no arrangement_clips): Session recording still works", () => {
    const device = connectedDevice({ live: new FakeLive({ liveVersion: 10 }) });
    device.live.record(0, { name: "S", filePath: "/takes/s.wav" });
    device.clock.advance(0);
    assert.equal(lastScore(device)[2], "/takes/s.wav");
});

test("a device outside a track says where it belongs", () => {
    const live = new FakeLive();
    live.device.props.canonical_parent = live.song.id;
    const device = new Device({ live });
    device.message("init");
    assert.equal(device.text(OUTLET.STATUS), "put loopbridge on an audio track");
    device.message("scoretrack");
    assert.equal(device.oscTo("/loopbridge/batch").length, 0);
});

test("a deleted clip's result changes nothing and breaks nothing", () => {
    const device = connectedDevice();
    device.live.record(0, { name: "Gone", filePath: "/takes/gone.wav" });
    device.clock.advance(0);
    device.live.deleteClip(0);
    device.receive("/loopbridge/result", lastScore(device)[1], "/takes/gone.wav", "loops", 5, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(device.live.sets.length, 0);
});

test("the stand-in enforces Live's rule against changes inside notifications", () => {
    const live = new FakeLive();
    const LiveAPI = live.makeLiveAPI();
    const clip = live.dropClip(0, { name: "x", filePath: "/x.wav" });
    const api = new LiveAPI((args) => {
        if (args[0] === "is_recording") new LiveAPI(`id ${clip.id}`).set("name", "changed");
    }, `id ${clip.id}`);
    api.property = "is_recording";
    assert.equal(clip.props.name, "x");
    assert.equal(live.violations.length, 1);
});

test("the server's answer to a sensitivity change shows the new threshold", () => {
    const device = connectedDevice();
    device.message("sensitivity", 0.99);
    device.receive("/loopbridge/model", "loops", "mel-stats", "knn", 0.99, "knn", 2.75, "mahalanobis", 8.1);
    assert.equal(device.text(OUTLET.STATUS), "loops: threshold 2.8 at sensitivity 0.99");
});

test("with a reply port set, every request names it as its last argument", () => {
    const device = new Device();
    device.message("replyport", 9011);
    device.message("init");
    assert.deepEqual(device.oscTo("/loopbridge/ping")[0], ["/loopbridge/ping", 9011]);
    device.receive("/loopbridge/pong", 1, "0.1.0", "CPUExecutionProvider");
    assert.deepEqual(device.oscTo("/loopbridge/models")[0], ["/loopbridge/models", 9011]);
    device.live.record(0, { name: "P", filePath: "/takes/p.wav" });
    device.clock.advance(0);
    assert.deepEqual(lastScore(device).slice(2), ["/takes/p.wav", ...CONTEXT, 9011]);
    device.message("scoretrack");
    assert.deepEqual(device.oscTo("/loopbridge/batch")[0].slice(2), ["/takes/p.wav", 9011]);
});

test("answers meant for another device on the same reply port are ignored", () => {
    const one = connectedDevice();
    const two = connectedDevice();
    const mine = one.live.record(0, { name: "Mine", filePath: "/takes/mine.wav" });
    one.clock.advance(0);
    const theirs = two.live.record(0, { name: "Theirs", filePath: "/takes/theirs.wav" });
    two.clock.advance(0);
    const twoId = lastScore(two)[1];
    assert.notEqual(lastScore(one)[1], twoId);
    one.receive("/loopbridge/result", twoId, "/takes/theirs.wav", "loops", 9, 1.5, 1, 8);
    one.receive("/loopbridge/result", lastScore(one)[1], "/takes/theirs.wav", "loops", 9, 1.5, 1, 8);
    one.clock.advance(0);
    assert.equal(mine.props.name, "Mine");
    assert.equal(theirs.props.name, "Theirs");
});

test("a file of the batch that fails is reported and counted; the batch goes on", () => {
    const device = connectedDevice();
    device.live.dropClip(0, { name: "Good", filePath: "/lib/good.wav" });
    device.live.dropClip(1, { name: "Gone", filePath: "/lib/gone.wav" });
    device.message("scoretrack");
    const id = device.oscTo("/loopbridge/batch")[0][1];
    device.receive("/loopbridge/file_error", id, "/lib/gone.wav", "missing", "/lib/gone.wav: no such file");
    assert.equal(device.text(OUTLET.REASONS), "Gone: /lib/gone.wav: no such file (missing)");
    device.receive("/loopbridge/result", id, "/lib/good.wav", "loops", 0.2, 1.5, 0, 8);
    device.receive("/loopbridge/done", id, 1, 0, 1);
    assert.equal(device.text(OUTLET.STATUS), "track done: 1 scored, 0 flagged, 1 failed");
});

test("a take flagged by a technical check alone is marked with its reason, not a ratio below 1", () => {
    const device = connectedDevice();
    const clip = device.live.record(0, { name: "Bass 9", filePath: "/takes/bass9.wav" });
    device.clock.advance(0);
    const id = lastScore(device)[1];
    device.receive("/loopbridge/reason", id, "dc_offset", 0.7, 0, 4, "DC offset of 0.12");
    device.receive("/loopbridge/result", id, "/takes/bass9.wav", "loops", 0.9, 1.5, 1, 8);
    device.clock.advance(0);
    assert.equal(clip.props.name, "\u26A0 dc_offset \u00B7 Bass 9");
    assert.equal(clip.props.color, 0x3c8cc8, "colour is off by default: one undo step per take");
    assert.equal(device.live.undoSteps, 1);
});

test("pressing Score track again cancels the running batch and ignores its late answers", () => {
    const device = connectedDevice();
    const a = device.live.dropClip(0, { name: "A", filePath: "/lib/a.wav" });
    device.message("scoretrack");
    const first = device.oscTo("/loopbridge/batch")[0][1];
    device.message("scoretrack");
    assert.deepEqual(device.oscTo("/loopbridge/cancel"), [["/loopbridge/cancel", first]]);
    const second = device.oscTo("/loopbridge/batch")[1][1];
    assert.notEqual(second, first);
    device.receive("/loopbridge/result", first, "/lib/a.wav", "loops", 9, 1.5, 1, 8);
    device.receive("/loopbridge/done", first, 1, 1, 0);
    device.clock.advance(0);
    assert.equal(a.props.name, "A");
    assert.equal(device.text(OUTLET.STATUS), "track: 0 / 1 scored");
    device.receive("/loopbridge/result", second, "/lib/a.wav", "loops", 0.3, 1.5, 0, 8);
    device.receive("/loopbridge/done", second, 1, 0, 0);
    assert.equal(device.text(OUTLET.STATUS), "track done: 1 scored, 0 flagged");
});

test("errors for requests that are not this device's are not shown; errors without an id are", () => {
    const device = connectedDevice();
    device.receive("/loopbridge/error", 12345, "missing", "/other/take.wav: no such file");
    assert.equal(device.text(OUTLET.STATUS), "watching Bass");
    device.receive("/loopbridge/error", -1, "unknown_model", "no model named drums; loaded: loops");
    assert.equal(device.text(OUTLET.STATUS), "server: no model named drums; loaded: loops (unknown_model)");
});
