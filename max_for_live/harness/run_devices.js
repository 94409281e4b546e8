"use strict";
// Several device instances on several tracks of one stand-in Live set, each with its own UDP sockets
// and its auto reply port, talking to one server at once. Every device records its takes at the same
// time; when all are answered, each device's clips, texts and received messages are printed as JSON.
//
//   node run_devices.js --server-port 9000 --scenario scenario.json
//   scenario.json: {"devices": [{"track": "Bass", "first_id": 1, "takes": [{"name": "B1", "path": "/abs/b1.wav",
//                   "seconds": 2}]}, ...], "timeout_s": 60}

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

function bind(socket, port) {
    return new Promise((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, "127.0.0.1", resolve);
    });
}

// One device on its own track, with the sockets [udpsend] and [udpreceive] would open.
async function startDevice(spec, serverPort) {
    const live = new FakeLive({ trackName: spec.track, slots: spec.takes.length + 1, firstId: spec.first_id });
    const device = new Device({ live, clock: new RealClock() });
    const log = { sent: [], received: [] };
    const tx = dgram.createSocket("udp4");
    const rx = dgram.createSocket("udp4");
    device.onOsc = (address, args) => {
        log.sent.push([address, ...args]);
        tx.send(osc.encode(address, args), serverPort, "127.0.0.1");
    };
    device.message("replyport", 0); // the box's default: auto
    device.message("init");
    const told = device.outputs.find((o) => o.outlet === OUTLET.RECEIVE_PORT);
    await bind(rx, told.args[1]); // what [udpreceive] does with "port N"
    rx.on("message", (buf) => {
        for (const [address, args] of osc.decode(buf)) {
            log.received.push([address, ...args]);
            device.receive(address, ...args);
        }
    });
    return { spec, live, device, log, sockets: [tx, rx], replyPort: told.args[1], clips: [] };
}

async function main() {
    const serverPort = Number(option("--server-port"));
    const scenario = JSON.parse(fs.readFileSync(option("--scenario"), "utf8"));
    const deadline = Date.now() + 1000 * (scenario.timeout_s || 60);
    const devices = [];
    let outcome = {};
    let exitCode = 0;
    try {
        for (const spec of scenario.devices) devices.push(await startDevice(spec, serverPort));
        for (const d of devices) await until("a pong", () => d.device.text(OUTLET.CONNECTION).startsWith("connected"), deadline);
        for (const d of devices) {
            d.spec.takes.forEach((take, slot) => {
                const clip = d.live.startRecording(slot, { name: take.name, filePath: take.path, end_marker: take.seconds, loop_end: take.seconds });
                d.clips.push({ original: take.name, path: take.path, clip });
            });
        }
        await sleep(20);
        for (const d of devices) for (const { clip } of d.clips) d.live.stopRecording(clip); // all at once
        await until("every device's answers", () => devices.every((d) => d.device.ctx.Device.busy() === 0), deadline);
    } catch (err) {
        exitCode = 1;
        outcome = { error: String(err.message || err) };
    }
    const report = {
        devices: devices.map((d) => ({
            reply_port: d.replyPort,
            connection: d.device.text(OUTLET.CONNECTION),
            status: d.device.text(OUTLET.STATUS),
            clips: d.clips.map(({ original, path, clip }) => ({ original, path, name: clip.props.name })),
            refusals: d.live.refusals,
            violations: d.live.violations,
            ...d.log,
        })),
        ...outcome,
    };
    process.stdout.write(JSON.stringify(report, null, 1) + "\n");
    for (const d of devices) {
        d.device.ctx.Device.stop();
        for (const s of d.sockets) s.close();
    }
    process.exit(exitCode);
}

main().catch((err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(2);
});
