"use strict";
// End to end without Live: the device script runs under the stand-in Live set and plays the device's
// part against a real server. Its outgoing messages leave as OSC over UDP (as [udpsend] would send
// them, from a random port); replies arriving at the reply port go back into the script (as
// [udpreceive] would deliver them). Each take is "recorded" into a clip slot; when every request is
// answered, the clips and the device's UI texts are printed as JSON.
//
//   node run_device.js --server-port 9000 --reply-port 9001 --scenario scenario.json
//   scenario.json: {"takes": [{"name": "Bass 1", "path": "/abs/take.wav", "seconds": 2}], "score_track": true,
//                   "model": "", "timeout_s": 60}

const dgram = require("node:dgram");
const fs = require("node:fs");
const { Device, FakeLive, OUTLET, RealClock } = require("./max_env.js");
const osc = require("./osc.js");

function option(name) {
    const i = process.argv.indexOf(name);
    if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing ${name}`);
    return process.argv[i + 1];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, test, deadline) {
    while (!test()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
    }
}

async function main() {
    const serverPort = Number(option("--server-port"));
    const replyPort = Number(option("--reply-port"));
    const scenario = JSON.parse(fs.readFileSync(option("--scenario"), "utf8"));
    const deadline = Date.now() + 1000 * (scenario.timeout_s || 60);

    const live = new FakeLive({ trackName: "Takes", slots: scenario.takes.length + 1 });
    const device = new Device({ live, clock: new RealClock() });
    const log = { sent: [], received: [] };

    const rx = dgram.createSocket("udp4");
    const tx = dgram.createSocket("udp4");
    await new Promise((resolve, reject) => {
        rx.once("error", reject);
        rx.bind(replyPort, "127.0.0.1", resolve);
    });
    rx.on("message", (buf) => {
        for (const [address, args] of osc.decode(buf)) {
            log.received.push([address, ...args]);
            device.receive(address, ...args);
        }
    });
    device.onOsc = (address, args) => {
        log.sent.push([address, ...args]);
        tx.send(osc.encode(address, args), serverPort, "127.0.0.1");
    };

    const idle = () => device.ctx.Device.busy() === 0;
    const clips = [];
    let exitCode = 0;
    let outcome = {};
    try {
        device.message("replyport", replyPort); // what the reply-port box sends on load
        if (scenario.model) device.message("savedmodel", scenario.model);
        device.message("init");
        await until("a pong", () => device.text(OUTLET.CONNECTION).startsWith("connected"), deadline);
        for (const [slot, take] of scenario.takes.entries()) {
            const region = take.seconds ? { end_marker: take.seconds, loop_end: take.seconds } : {};
            const clip = live.startRecording(slot, { name: take.name, filePath: take.path, ...region });
            await sleep(20);
            live.stopRecording(clip);
            clips.push({ slot, original: take.name, path: take.path, clip });
            await until(`the answer for ${take.name}`, idle, deadline);
        }
        if (scenario.score_track) {
            device.message("scoretrack");
            await until("the track's batch", idle, deadline);
        }
    } catch (err) {
        exitCode = 1;
        outcome = { error: String(err.message || err) };
    }
    const report = {
        connection: device.text(OUTLET.CONNECTION),
        result: device.text(OUTLET.RESULT),
        reasons: device.text(OUTLET.REASONS),
        status: device.text(OUTLET.STATUS),
        clips: clips.map(({ slot, original, path, clip }) => ({
            slot, original, path, name: clip.props.name, color: clip.props.color,
        })),
        violations: live.violations,
        ...log,
        ...outcome,
    };
    process.stdout.write(JSON.stringify(report, null, 1) + "\n");
    rx.close();
    tx.close();
    process.exit(exitCode);
}

main().catch((err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(2);
});
