"use strict";
// Arrangement recording, take lanes, regions, context and marking, against the stand-in Live.

const test = require("node:test");
const assert = require("node:assert/strict");
const { FakeLive, Device } = require("../harness/max_env.js");

function connectedDevice(options) {
    const device = new Device(options);
    device.message("init");
    device.receive("/loopbridge/pong", 1, "0.1.0", "CPUExecutionProvider");
    device.clock.advance(0);
    return device;
}

// The named arguments of a score request, as {name: value}; siblings as a list.
function named(message) {
    const out = { path: message[2], sibling: [] };
    for (let i = 3; i + 1 < message.length; i += 2) {
        if (message[i] === "sibling") out.sibling.push(message[i + 1]);
        else out[message[i]] = message[i + 1];
    }
    return out;
}

function scores(device) {
    return device.oscTo("/loopbridge/score").map(named);
}

test("Live 12 loop recording: every pass on a take lane is its own request for its region of the one file", () => {
    const device = connectedDevice();
    device.live.recordButton(1);
    device.live.loopRecord({ name: "Gtr", filePath: "/takes/gtr loop.wav", passes: 3, seconds: 2 });
    device.clock.advance(0);
    device.live.recordButton(0);
    device.clock.advance(500);
    const sent = scores(device);
    assert.deepEqual(sent.map((s) => [s.path, s.start_s, s.end_s]), [
        ["/takes/gtr loop.wav", 0, 2], ["/takes/gtr loop.wav", 2, 4], ["/takes/gtr loop.wav", 4, 6],
    ], "the last pass is on the track and on its lane: sent once");
    assert.deepEqual(sent.map((s) => s.sibling), [[], [], []], "passes of one file are not each other's siblings");
});

test("Live 11 loop recording (no take lanes): the clip's last pass is scored, not the whole file", () => {
    const device = connectedDevice({ live: new FakeLive({ liveVersion: 11 }) });
    device.live.recordButton(1);
    device.live.loopRecord({ name: "Gtr", filePath: "/takes/gtr.wav", passes: 3, seconds: 2 });
    device.clock.advance(0);
    const sent = scores(device);
    assert.deepEqual(sent.map((s) => [s.start_s, s.end_s]), [[4, 6]]);
    assert.equal(sent[0].key, undefined, "Live 11 has no song key");
    assert.equal(sent[0].bpm, 120);
});

test("punch-in: the take is scored at punch-out while the Record button stays on", () => {
    const device = connectedDevice();
    device.live.recordButton(1);
    device.clock.advance(4000); // waiting for the punch-in point
    const clip = device.live.startArrangementTake({ name: "Vox", filePath: "/takes/vox.wav", seconds: 3 });
    device.clock.advance(0);
    assert.equal(scores(device).length, 0, "sent while still recording");
    device.live.stopRecording(clip);
    device.clock.advance(0);
    assert.deepEqual(scores(device).map((s) => [s.path, s.end_s]), [["/takes/vox.wav", 3]]);
    assert.equal(device.live.song.props.record_mode, 1);
    device.live.recordButton(0);
    device.clock.advance(500);
    assert.equal(device.live.observers.filter((o) => o.obj === clip).length, 0, "the clip's watch is let go");
    assert.equal(scores(device).length, 1);
});

test("Session clips launched during Arrangement recording are not takes; a moved or pasted clip neither", () => {
    const device = connectedDevice();
    device.live.dropClip(0, { name: "Loop", filePath: "/lib/loop.wav" });
    const old = device.live.addArrangementClip({ name: "Old", filePath: "/takes/old.wav" });
    device.live.recordButton(1);
    device.live.launchIntoArrangement(0);
    device.live.addArrangementClip({ name: "Old", filePath: old.props.file_path, start_marker: 1 }); // pasted copy
    device.clock.advance(0);
    device.live.recordButton(0);
    device.clock.advance(500);
    assert.equal(scores(device).length, 0);
});

test("recording over a clip: the new take is scored, the split-off remainder is not", () => {
    const device = connectedDevice();
    const old = device.live.addArrangementClip({ name: "Bass", filePath: "/takes/bass1.wav", end_marker: 8, loop_end: 8 });
    device.live.recordButton(1);
    device.live.recordOver(old, { name: "Bass 2", filePath: "/takes/bass2.wav", from: 2, seconds: 4 });
    device.clock.advance(0);
    assert.deepEqual(scores(device).map((s) => s.path), ["/takes/bass2.wav"]);
    assert.equal(device.live.track.children.arrangement_clips.length, 3);
});

test("a warped clip's beats become seconds of its file through its warp markers, else the song tempo", () => {
    const device = connectedDevice();
    device.live.recordButton(1);
    // 0 s = beat 0, 2 s = beat 4 (file at 120 bpm), then played slower: 6 s = beat 12.
    const markers = [{ sample_time: 0, beat_time: 0 }, { sample_time: 2, beat_time: 4 }, { sample_time: 6, beat_time: 12 }];
    device.live.addArrangementClip({ name: "W", filePath: "/takes/w.wav", warping: 1, looping: 1, loop_start: 2, loop_end: 8, warpMarkers: markers });
    device.live.change(device.live.song, "tempo", 90);
    device.live.addArrangementClip({ name: "T", filePath: "/takes/t.wav", warping: 1, start_marker: 0, end_marker: 6 });
    device.clock.advance(0);
    const sent = scores(device);
    assert.deepEqual([sent[0].start_s, sent[0].end_s], [1, 4]);
    assert.deepEqual([sent[1].start_s, sent[1].end_s, sent[1].bpm], [0, 4, 90]); // 6 beats at 90 bpm
});

test("context: tempo, meter and Live 12 key go with each take; earlier takes of the same length are siblings", () => {
    const device = connectedDevice();
    Object.assign(device.live.song.props, { signature_numerator: 6, signature_denominator: 8, root_note: 9, scale_name: "Minor" });
    device.live.record(0, { name: "Bass 1", filePath: "/takes/b1.wav" });
    device.live.record(1, { name: "Bass 2", filePath: "/takes/b2.wav" });
    device.live.record(2, { name: "Fill", filePath: "/takes/fill.wav", end_marker: 1 });
    device.clock.advance(0);
    device.live.record(3, { name: "Bass 3", filePath: "/takes/b3.wav" });
    device.clock.advance(0);
    const sent = scores(device);
    assert.equal(sent[0].meter, "6/8");
    assert.equal(sent[0].key, "A Minor");
    assert.deepEqual(sent.map((s) => s.sibling), [[], ["/takes/b1.wav"], [], ["/takes/b2.wav", "/takes/b1.wav"]]);
});

test("marking costs one undo step per flagged take; marks off costs none; ASCII marks replace Unicode ones", () => {
    const device = connectedDevice();
    const clip = device.live.record(0, { name: "My Bass Take", filePath: "/takes/m.wav" });
    device.clock.advance(0);
    const id = device.oscTo("/loopbridge/score")[0][1];
    device.receive("/loopbridge/result", id, "/takes/m.wav", "loops", 3, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(clip.props.name, "\u26A0 2\u00D7 \u00B7 My Bass Take", "a name split into atoms comes back whole");
    assert.equal(device.live.undoSteps, 1);
    device.message("asciimarks", 1);
    device.message("scoretrack");
    const batch = device.oscTo("/loopbridge/batch")[0][1];
    device.receive("/loopbridge/result", batch, "/takes/m.wav", "loops", 3, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(clip.props.name, "! 2x | My Bass Take");
    device.receive("/loopbridge/result", batch, "/takes/m.wav", "loops", 3, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(device.live.undoSteps, 2, "an unchanged mark is not set again");
    device.message("marks", 0);
    const other = device.live.record(1, { name: "B", filePath: "/takes/b.wav" });
    device.clock.advance(0);
    device.receive("/loopbridge/result", device.oscTo("/loopbridge/score")[1][1], "/takes/b.wav", "loops", 3, 1.5, 1, 9);
    device.clock.advance(0);
    assert.equal(other.props.name, "B");
    assert.equal(device.live.undoSteps, 2);
});

test("Score track includes the clips on take lanes", () => {
    const device = connectedDevice();
    device.live.loopRecord({ name: "Gtr", filePath: "/takes/lanes.wav", passes: 2, seconds: 2 });
    device.live.addLane();
    device.live.placeClip(device.live.newClip({ name: "Comp", file_path: "/takes/lane only.wav" }), device.live.clip(device.live.track.children.take_lanes[2]));
    device.message("scoretrack");
    const paths = device.oscTo("/loopbridge/batch")[0].slice(2);
    assert.deepEqual(paths, ["/takes/lanes.wav", "/takes/lane only.wav"]);
});

test("Score track renames only the clips it flags: one undo step each, none for the rest", () => {
    const device = connectedDevice();
    const clips = [0, 1, 2, 3].map((i) => device.live.dropClip(i, { name: `Loop ${i}`, filePath: `/lib/loop${i}.wav` }));
    device.message("scoretrack");
    const batch = device.oscTo("/loopbridge/batch")[0][1];
    for (const [i, clip] of clips.entries()) {
        device.receive("/loopbridge/result", batch, clip.props.file_path, "loops", i === 2 ? 3 : 0.5, 1.5, i === 2 ? 1 : 0, 5);
    }
    device.receive("/loopbridge/done", batch, 4, 1, 0);
    device.clock.advance(0);
    assert.deepEqual(clips.map((c) => c.props.name), ["Loop 0", "Loop 1", "\u26A0 2\u00D7 \u00B7 Loop 2", "Loop 3"]);
    assert.equal(device.live.undoSteps, 1);
});

test("the result says which take of its part this is, and where it departs from the earlier ones", () => {
    const device = connectedDevice();
    const answer = (i, reasons = []) => {
        const [, id, path] = device.oscTo("/loopbridge/score")[i];
        for (const r of reasons) device.receive("/loopbridge/reason", id, ...r);
        device.receive("/loopbridge/result", id, path, "loops", 1, 1.5, reasons.length ? 1 : 0, 5);
    };
    device.live.record(0, { name: "Bass 1", filePath: "/takes/b1.wav" });
    device.clock.advance(0);
    answer(0);
    assert.doesNotMatch(device.text(2), /take 1/, "a first take stands alone");
    device.live.record(1, { name: "Bass 2", filePath: "/takes/b2.wav" });
    device.live.record(2, { name: "Fill", filePath: "/takes/fill.wav", end_marker: 1, loop_end: 1 }); // another part
    device.live.record(3, { name: "Bass 3", filePath: "/takes/b3.wav" });
    device.clock.advance(0);
    answer(1);
    assert.match(device.text(2), /\ntake 2 of 3$/, "Bass 3 was recorded meanwhile: three takes of the part");
    answer(2);
    assert.doesNotMatch(device.text(2), /take \d of/, "a take of its own part");
    answer(3, [["timing", 0.6, 1.75, 0.1, "late against the earlier takes"]]);
    assert.match(device.text(2), /^Bass 3: score .*\ntake 3 of 3: departs at 1\.75 s \(timing\)$/);
    assert.equal(named(device.oscTo("/loopbridge/score")[3]).sibling.length, 2);
});

test("the server's `context` and `compare` replies before a take's result: where it stands, what it was judged against", () => {
    const device = connectedDevice();
    device.live.record(0, { name: "Bass 1", filePath: "/takes/b1.wav" });
    device.clock.advance(0);
    device.live.record(1, { name: "Bass 2", filePath: "/takes/b2.wav" });
    device.clock.advance(0);
    const id = device.oscTo("/loopbridge/score")[1][1];
    device.receive("/loopbridge/context", id, 120, "A minor", "4/4", "request", "request", "default");
    device.receive("/loopbridge/reason", id, "timing", 0.8, 2.31, 0.045, "this take: the note at 2.31 s comes 45 ms after the other take");
    device.receive("/loopbridge/compare", id, 2, 2, "timing", 2.31, "the", "note", "at", "2.31", "s", "comes", "45", "ms", "after", "the", "other", "take");
    device.receive("/loopbridge/result", id, "/takes/b2.wav", "loops", 0.5, 1.5, 1, 9);
    device.clock.advance(0);
    const shown = device.text(2);
    assert.match(shown, /take 2 of 2: the note at 2\.31 s comes 45 ms after the other take/);
    assert.match(shown, /judged at 120 BPM \(from Live\), A minor \(from Live\), 4\/4 \(assumed\)/);
    device.live.record(2, { name: "Bass 3", filePath: "/takes/b3.wav" });
    device.clock.advance(0);
    const next = device.oscTo("/loopbridge/score")[2][1];
    device.receive("/loopbridge/result", next, "/takes/b3.wav", "loops", 0.5, 1.5, 0, 9);
    device.clock.advance(0);
    assert.doesNotMatch(device.text(2), /judged at|the note at/, "one take's context and standing never reach the next");
});
