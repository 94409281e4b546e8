"use strict";
// The stand-in Live follows the LOM reference's table (harness/lom.json): it refuses what Live refuses,
// and the device, through every scenario, never asks for anything Live would refuse.

const test = require("node:test");
const assert = require("node:assert/strict");
const { LOM, FakeLive, Device } = require("../harness/max_env.js");

test("the table cites the reference page of every class it models", () => {
    assert.match(LOM.source, /^https:\/\/docs\.cycling74\.com\/apiref\/lom\/$/);
    for (const [name, cls] of Object.entries(LOM.classes)) {
        assert.ok(cls.page.startsWith(LOM.source), name);
        assert.ok(Object.keys(cls.members).length > 0, name);
    }
    assert.equal(LOM.classes.Clip.members.file_path.read_only, true);
    assert.equal(LOM.classes.Track.members.take_lanes.since, 12);
    assert.equal(LOM.classes.Track.members.arrangement_clips.since, 11);
});

test("read-only members and unobservable properties are refused; nothing changes", () => {
    const live = new FakeLive();
    const LiveAPI = live.makeLiveAPI();
    const clip = live.dropClip(0, { name: "Loop", filePath: "/lib/loop.wav" });
    const api = new LiveAPI(`id ${clip.id}`);
    api.set("file_path", "/elsewhere.wav");
    api.set("is_recording", 1);
    assert.equal(clip.props.file_path, "/lib/loop.wav");
    api.set("name", "Renamed");
    assert.equal(clip.props.name, "Renamed");
    assert.equal(live.undoSteps, 1, "one undo step per accepted set");
    let calls = 0;
    const slotWatch = new LiveAPI(() => { calls += 1; }, `id ${live.slot(0).id}`);
    slotWatch.property = "is_recording"; // ClipSlot.is_recording is get-only
    assert.equal(calls, 0);
    assert.deepEqual(live.refusals.map((r) => r.prop || r.observe), ["file_path", "is_recording", "is_recording"]);
    assert.throws(() => api.get("bpm"), /no property bpm/);
});

test("each Live version has only its members: take lanes from 12, arrangement clips from 11", () => {
    const info = (version) => new (new FakeLive({ liveVersion: version }).makeLiveAPI())("this_device canonical_parent").info;
    assert.match(info(12), /^children take_lanes /m);
    assert.doesNotMatch(info(11), /take_lanes/);
    assert.match(info(11), /^children arrangement_clips /m);
    assert.doesNotMatch(info(10), /arrangement_clips/);
    const song11 = new (new FakeLive({ liveVersion: 11 }).makeLiveAPI())("live_set");
    assert.throws(() => song11.get("root_note"), /no property root_note in Live 11/);
    assert.throws(() => new FakeLive({ liveVersion: 11 }).add("Track", { take_lanes: [] }, {}), /no take_lanes/);
});

test("through recording, loop recording, marking and Score track the device asks nothing Live refuses", () => {
    for (const liveVersion of [10, 11, 12]) {
        const live = new FakeLive({ liveVersion });
        const device = new Device({ live });
        device.message("markcolour", 1);
        device.message("markok", 1);
        device.message("init");
        device.receive("/loopbridge/pong", 1, "0.1.0", "CPU");
        device.clock.advance(0);
        live.record(0, { name: "Bass 1", filePath: "/takes/b1.wav" });
        if (liveVersion >= 11) {
            live.recordButton(1);
            live.loopRecord({ name: "Gtr", filePath: "/takes/gtr.wav", passes: 2, seconds: 2 });
            live.recordButton(0);
        }
        device.clock.advance(600);
        for (const [, id, path] of device.oscTo("/loopbridge/score")) {
            device.receive("/loopbridge/result", id, path, "loops", 3, 1.5, 1, 5);
        }
        device.clock.advance(0);
        device.message("scoretrack");
        device.clock.advance(0);
        assert.deepEqual(live.refusals, [], `Live ${liveVersion}`);
        assert.deepEqual(live.violations, [], `Live ${liveVersion}`);
        assert.ok(live.undoSteps >= 2, `Live ${liveVersion}: clips were marked`);
        device.ctx.Device.stop();
    }
});
