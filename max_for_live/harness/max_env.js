"use strict";
// A stand-in for what Max and Live give the device script: a Live set behind LiveAPI (with Live's
// rule that observer callbacks must not change the set), Max's Task scheduler, outlets and post.
// The device runs unchanged inside a vm context, as Max's js object would run it.

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const DEVICE_JS = path.join(__dirname, "..", "loopbridge.js");
const SRC = path.join(__dirname, "..", "src");
// The reply schema shared with the Python server; bridge/m4l.py assembles it into loopbridge.js.
const REPLY_SCHEMA_JSON = path.join(__dirname, "..", "..", "bridge", "server", "replies.json");

// Some of the device's modules (max_for_live/src/*.js, in load order) in a context of their own, for
// unit tests: returns the context, whose globals are the modules' objects.
function loadModules(names, globals = {}) {
    const ctx = vm.createContext({ REPLY_SCHEMA: JSON.parse(fs.readFileSync(REPLY_SCHEMA_JSON, "utf8")), ...globals });
    for (const name of names) {
        const file = path.join(SRC, name);
        vm.runInContext(fs.readFileSync(file, "utf8"), ctx, { filename: file });
    }
    return ctx;
}

// ---- the Live set ------------------------------------------------------------------------------

class FakeLive {
    // firstId: where this set's object ids start (two stand-ins for two tracks of one set must differ).
    constructor({ trackName = "Bass", slots = 4, liveVersion = 12, firstId = 1 } = {}) {
        this.objects = new Map();
        this.nextId = firstId;
        this.observers = [];
        this.notifying = 0;
        this.violations = []; // set() calls made from inside an observer callback
        this.sets = []; // every accepted set(): {id, prop, value}; each is one step in Live's undo history
        this.liveVersion = liveVersion;
        const song = { record_mode: 0, is_playing: 0, tempo: 120, signature_numerator: 4, signature_denominator: 4 };
        if (liveVersion >= 12) Object.assign(song, { root_note: 0, scale_name: "Major" });
        this.song = this.add("Song", song, {});
        const children = { clip_slots: [], devices: [] };
        if (liveVersion >= 11) children.arrangement_clips = [];
        if (liveVersion >= 12) children.take_lanes = [];
        this.track = this.add("Track", { name: trackName }, children);
        this.device = this.add("MaxDevice", { name: "loopbridge", canonical_parent: this.track.id }, {});
        this.track.children.devices.push(this.device.id);
        for (let i = 0; i < slots; i++) this.addSlot({ notify: false });
    }

    add(type, props, children) {
        const obj = { id: this.nextId++, type, props, children, deleted: false };
        this.objects.set(obj.id, obj);
        return obj;
    }

    resolve(livePath) {
        const words = String(livePath).trim().split(/\s+/);
        let obj = null;
        let i = 0;
        if (words[0] === "id") {
            obj = this.objects.get(Number(words[1])) || null;
            i = 2;
        } else if (words[0] === "this_device") {
            obj = this.device;
            i = 1;
        } else if (words[0] === "live_set") {
            obj = this.song;
            i = 1;
        }
        for (; obj && i < words.length; i++) {
            if (words[i] === "canonical_parent") obj = this.objects.get(obj.props.canonical_parent) || null;
            else return null;
        }
        return obj && !obj.deleted ? obj : null;
    }

    // What LiveAPI.get answers: a list of atoms; children and object references as "id N" pairs.
    // Strings come back split into several atoms at spaces, as names and paths do in Max.
    atoms(obj, prop) {
        if (!obj) return ["id", 0];
        if (obj.children[prop]) return obj.children[prop].flatMap((id) => ["id", id]);
        if (prop === "clip" || prop === "canonical_parent") return ["id", obj.props[prop] || 0];
        if (!(prop in obj.props)) throw new Error(`LiveAPI: ${obj.type} has no property ${prop}`);
        const value = obj.props[prop];
        return typeof value === "string" && prop !== "warp_markers" ? value.split(" ") : [value];
    }

    get undoSteps() {
        return this.sets.length;
    }

    notify(obj, prop) {
        for (const o of this.observers.slice()) {
            if (o.obj === obj && o.prop === prop) this.callback(o, prop);
        }
    }

    callback(observer, prop) {
        if (!observer.fn) return;
        this.notifying += 1;
        try {
            observer.fn.call(observer.api, [prop, ...this.atoms(observer.obj, prop)]);
        } finally {
            this.notifying -= 1;
        }
    }

    change(obj, prop, value) {
        obj.props[prop] = value;
        this.notify(obj, prop);
    }

    addSlot({ notify = true } = {}) {
        const slot = this.add("ClipSlot", { has_clip: 0, clip: 0 }, {});
        this.track.children.clip_slots.push(slot.id);
        if (notify) this.notify(this.track, "clip_slots");
        return slot;
    }

    slot(index) {
        return this.objects.get(this.track.children.clip_slots[index]);
    }

    // An unwarped clip playing seconds 0-4 of its file unless told otherwise; warped clips keep
    // their markers in beats, and (Live 11+) warp markers as Live's JSON.
    newClip(props) {
        const clip = {
            name: "", file_path: "", is_audio_clip: 1, is_recording: 0, color: 0x3c8cc8,
            looping: 0, start_marker: 0, end_marker: 4, loop_start: 0, loop_end: 4, warping: 0, ...props,
        };
        if (this.liveVersion >= 11) {
            clip.warp_markers = JSON.stringify({ warp_markers: props.warpMarkers || [] });
        }
        delete clip.warpMarkers;
        return this.add("Clip", clip, {});
    }

    // ---- the Arrangement: the Record button, recorded clips, take lanes ----

    // The Arrangement Record button, independent of the transport (punch-in waits with it on).
    recordButton(on) {
        this.change(this.song, "record_mode", on ? 1 : 0);
    }

    addLane() {
        const lane = this.add("TakeLane", { name: `Take ${this.track.children.take_lanes.length + 1}` },
            { arrangement_clips: [] });
        this.track.children.take_lanes.push(lane.id);
        this.notify(this.track, "take_lanes");
        return lane;
    }

    placeClip(clip, lane = null) {
        const owner = lane || this.track;
        owner.children.arrangement_clips.push(clip.id);
        this.notify(owner, "arrangement_clips");
        return clip;
    }

    // A recording into the Arrangement: the clip appears recording and stops at punch-out.
    startArrangementTake({ name, filePath, seconds = 4 }) {
        return this.placeClip(this.newClip({ name, file_path: filePath, is_recording: 1, end_marker: seconds, loop_end: seconds }));
    }

    // Loop recording over `passes` passes of `seconds`: one file holds every pass. Live 12 puts each
    // pass on its own take lane and the last on the track; Live 11 keeps only the last as the clip.
    loopRecord({ name, filePath, passes, seconds }) {
        const region = (i) => ({ start_marker: i * seconds, end_marker: (i + 1) * seconds, loop_start: i * seconds, loop_end: (i + 1) * seconds });
        const lanes = [];
        if (this.track.children.take_lanes) {
            for (let i = 0; i < passes; i++) {
                lanes.push(this.placeClip(this.newClip({ name: `${name} ${i + 1}`, file_path: filePath, ...region(i) }), this.addLane()));
            }
        }
        const main = this.placeClip(this.newClip({ name, file_path: filePath, ...region(passes - 1) }));
        return { main, lanes };
    }

    // Recording over part of a clip splits it: Live shortens it and adds the remainder (same file).
    recordOver(old, { name, filePath, from, seconds }) {
        const end = old.props.end_marker;
        old.props.end_marker = from;
        old.props.loop_end = from;
        const remainder = this.newClip({ name: old.props.name, file_path: old.props.file_path, start_marker: from + seconds, end_marker: end, loop_start: from + seconds, loop_end: end });
        const take = this.newClip({ name, file_path: filePath, end_marker: seconds, loop_end: seconds });
        this.placeClip(remainder);
        return this.placeClip(take);
    }

    // A Session clip launched while the Record button is on is recorded into the Arrangement as a
    // clip playing the Session clip's file.
    launchIntoArrangement(slotIndex) {
        const source = this.clip(this.slot(slotIndex).props.clip);
        return this.placeClip(this.newClip({ name: source.props.name, file_path: source.props.file_path }));
    }

    // Session recording as Live does it: the slot gets a clip that records, then stops.
    startRecording(slotIndex, { name, filePath, audio = true, ...props }) {
        const slot = this.slot(slotIndex);
        const clip = this.newClip({ name, file_path: audio ? filePath : "", is_audio_clip: audio ? 1 : 0, is_recording: 1, ...props });
        slot.props.clip = clip.id;
        this.change(slot, "has_clip", 1);
        return clip;
    }

    stopRecording(clip) {
        this.change(clip, "is_recording", 0);
    }

    record(slotIndex, take) {
        const clip = this.startRecording(slotIndex, take);
        this.stopRecording(clip);
        return clip;
    }

    // A clip dragged in from the browser: it never records.
    dropClip(slotIndex, { name, filePath }) {
        const slot = this.slot(slotIndex);
        const clip = this.newClip({ name, file_path: filePath });
        slot.props.clip = clip.id;
        this.change(slot, "has_clip", 1);
        return clip;
    }

    deleteClip(slotIndex) {
        const slot = this.slot(slotIndex);
        this.objects.get(slot.props.clip).deleted = true;
        slot.props.clip = 0;
        this.change(slot, "has_clip", 0);
    }

    addArrangementClip({ name, filePath, ...props }) {
        return this.placeClip(this.newClip({ name, file_path: filePath, ...props }));
    }

    clip(id) {
        return this.objects.get(Number(id));
    }

    makeLiveAPI() {
        const live = this;
        return class LiveAPI {
            constructor(a, b) {
                const fn = typeof a === "function" ? a : null;
                this._observer = { api: this, fn, obj: live.resolve(fn ? b : a), prop: "" };
                this.mode = 0;
            }
            get id() { return String(this._obj ? this._obj.id : 0); }
            get _obj() {
                const obj = this._observer.obj;
                return obj && !obj.deleted ? obj : null;
            }
            get type() { return this._obj ? this._obj.type : ""; }
            get path() { return `id ${this.id}`; }
            get info() {
                const obj = this._obj;
                if (!obj) return "No object";
                const lines = [`id ${obj.id}`, `type ${obj.type}`];
                for (const c of Object.keys(obj.children)) lines.push(`children ${c} ${obj.type}`);
                for (const p of Object.keys(obj.props)) lines.push(`property ${p}`);
                return lines.join("\n");
            }
            get property() { return this._observer.prop; }
            set property(prop) {
                live.observers = live.observers.filter((o) => o !== this._observer);
                this._observer.prop = prop;
                if (prop && this._obj) {
                    live.observers.push(this._observer);
                    live.callback(this._observer, prop); // Live reports the current value at once
                }
            }
            get(prop) { return live.atoms(this._obj, prop); }
            getcount(child) { return this._obj ? (this._obj.children[child] || []).length : 0; }
            set(prop, value) {
                if (live.notifying) {
                    live.violations.push({ id: this.id, prop, value });
                    return; // Live prints "Changes cannot be triggered by notifications" and ignores it
                }
                if (!this._obj) return;
                live.sets.push({ id: this._obj.id, prop, value });
                live.change(this._obj, prop, value);
            }
        };
    }
}

// ---- Max's scheduler -----------------------------------------------------------------------------

// Manual time for unit tests: tasks run only when the test advances the clock.
class ManualClock {
    constructor() {
        this.now = 1_000_000;
        this.queue = [];
    }

    at(due, run) {
        const entry = { due, run, cancelled: false };
        this.queue.push(entry);
        return entry;
    }

    advance(ms = 0) {
        const end = this.now + ms;
        for (;;) {
            const ready = this.queue.filter((e) => !e.cancelled && e.due <= end).sort((a, b) => a.due - b.due);
            if (ready.length === 0) break;
            const entry = ready[0];
            this.queue.splice(this.queue.indexOf(entry), 1);
            this.now = Math.max(this.now, entry.due);
            entry.run();
        }
        this.now = end;
    }

    makeDate() {
        const clock = this;
        return function FakeDate() {
            this.getTime = () => clock.now;
        };
    }
}

// Real time for the end-to-end harness.
class RealClock {
    at(due, run) {
        const entry = { cancelled: false };
        entry.timer = setTimeout(() => {
            if (!entry.cancelled) run();
        }, Math.max(0, due - Date.now()));
        return entry;
    }

    get now() { return Date.now(); }
}

function makeTask(clock) {
    return class Task {
        constructor(fn, thisObj, args) {
            this.fn = fn;
            this.thisObj = thisObj;
            this.args = args || [];
            this.interval = 0;
            this.entry = null;
            this.running = false;
        }
        execute() { this.fn.apply(this.thisObj, this.args); }
        schedule(ms = 0) {
            this.cancel();
            this.entry = clock.at(clock.now + ms, () => {
                this.entry = null;
                this.execute();
            });
        }
        // Max: repeat(count, initialdelay); a missing or negative count repeats until cancelled.
        // The first run waits initialdelay (taken as 0 when missing, the harsher case).
        repeat(count = -1, initialDelay = 0) {
            this.cancel();
            this.running = true;
            let left = count < 0 ? Infinity : count;
            const step = (delay) => {
                if (left-- <= 0) {
                    this.running = false;
                    return;
                }
                this.entry = clock.at(clock.now + delay, () => {
                    step(this.interval);
                    this.execute();
                });
            };
            step(initialDelay);
        }
        cancel() {
            if (this.entry) this.entry.cancelled = true;
            if (this.entry && this.entry.timer) clearTimeout(this.entry.timer);
            this.entry = null;
            this.running = false;
        }
    };
}

// ---- the js object -------------------------------------------------------------------------------

class Device {
    constructor({ live = new FakeLive(), clock = new ManualClock(), source = DEVICE_JS } = {}) {
        this.live = live;
        this.clock = clock;
        this.outputs = []; // {outlet, args}
        this.posts = [];
        this.onOsc = null; // called with (address, args) for every message to udpsend
        const ctx = {
            LiveAPI: live.makeLiveAPI(),
            Task: makeTask(clock),
            outlet: (index, ...atoms) => {
                const args = atoms.flat(); // Max outputs an array's elements as one message
                this.outputs.push({ outlet: index, args });
                if (index === 0 && this.onOsc) this.onOsc(args[0], args.slice(1));
            },
            post: (...args) => this.posts.push(args.join(" ")),
            arrayfromargs: (args) => Array.prototype.slice.call(args),
            setinletassist: () => {},
            setoutletassist: () => {},
            messagename: "",
        };
        if (clock instanceof ManualClock) ctx.Date = clock.makeDate();
        this.ctx = vm.createContext(ctx);
        vm.runInContext(fs.readFileSync(source, "utf8"), this.ctx, { filename: source });
    }

    // Max's dispatch: a global function named like the message, unless local; else anything().
    message(name, ...args) {
        const fn = this.ctx[name];
        this.ctx.messagename = name;
        if (typeof fn === "function" && !fn.local) fn(...args);
        else this.ctx.anything(...args);
    }

    // What udpreceive would output for an OSC message from the server.
    receive(address, ...args) {
        this.message(address, ...args);
    }

    osc() {
        return this.outputs.filter((o) => o.outlet === 0).map((o) => o.args);
    }

    oscTo(address) {
        return this.osc().filter((m) => m[0] === address);
    }

    // The text a UI comment shows: the last "set" sent to that outlet.
    text(outletIndex) {
        const sets = this.outputs.filter((o) => o.outlet === outletIndex && o.args[0] === "set");
        return sets.length ? sets[sets.length - 1].args.slice(1).join(" ") : "";
    }
}

const OUTLET = { OSC: 0, CONNECTION: 1, RESULT: 2, REASONS: 3, STATUS: 4, MODELS: 5, SAVED_MODEL: 6, RECEIVE_PORT: 7 };

module.exports = { FakeLive, ManualClock, RealClock, Device, OUTLET, DEVICE_JS, REPLY_SCHEMA_JSON, loadModules };
