"use strict";
// Two device instances with auto reply ports, talking to one server over real UDP sockets.

const test = require("node:test");
const assert = require("node:assert/strict");
const dgram = require("node:dgram");
const { FakeLive, Device, OUTLET, RealClock } = require("../harness/max_env.js");
const osc = require("../harness/osc.js");

function bind(socket, port = 0) {
    return new Promise((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, "127.0.0.1", () => resolve(socket.address().port));
    });
}

async function until(what, ready, ms = 5000) {
    const end = Date.now() + ms;
    while (!ready()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
    }
}

test("each device derives its own reply port, shows it, and gets only its own answers", async () => {
    // A server that answers every request at the port the request names last, as loopbridge serve does.
    const server = dgram.createSocket("udp4");
    const serverPort = await bind(server);
    server.on("message", (buf) => {
        for (const [address, args] of osc.decode(buf)) {
            const port = args[args.length - 1];
            const reply = address === "/loopbridge/ping" ? ["/loopbridge/pong", [1, "udp-peer", "CPU"]]
                : ["/loopbridge/result", [args[0], args[1], "loops", 3, 1.5, 1, 2]];
            if (address === "/loopbridge/ping" || address === "/loopbridge/score") server.send(osc.encode(...reply), port, "127.0.0.1");
        }
    });
    const devices = [];
    const sockets = [server];
    try {
        for (const [i, firstId] of [1, 501].entries()) {
            const live = new FakeLive({ trackName: `Track ${i + 1}`, firstId });
            const device = new Device({ live, clock: new RealClock() });
            const tx = dgram.createSocket("udp4");
            const rx = dgram.createSocket("udp4");
            sockets.push(tx, rx);
            device.onOsc = (address, args) => tx.send(osc.encode(address, args), serverPort, "127.0.0.1");
            device.message("replyport", 0); // the box's default: auto
            device.message("init");
            const told = device.outputs.filter((o) => o.outlet === OUTLET.RECEIVE_PORT);
            assert.equal(told.length, 1);
            assert.equal(told[0].args[0], "port");
            await bind(rx, told[0].args[1]); // what [udpreceive] does with "port N"
            rx.on("message", (buf) => {
                for (const [address, args] of osc.decode(buf)) device.receive(address, ...args);
            });
            devices.push({ device, port: told[0].args[1] });
        }
        assert.notEqual(devices[0].port, devices[1].port);
        for (const { device, port } of devices) {
            await until("a pong", () => device.text(OUTLET.CONNECTION).startsWith("connected"));
            assert.match(device.text(OUTLET.CONNECTION), new RegExp(`replies on ${port}$`));
        }
        const clips = devices.map(({ device }, i) => device.live.record(0, { name: `Take ${i}`, filePath: `/takes/t${i}.wav` }));
        await until("both results", () => clips.every((c) => c.props.name.startsWith("\u26A0")));
        assert.deepEqual(clips.map((c) => c.props.name), ["\u26A0 2\u00D7 \u00B7 Take 0", "\u26A0 2\u00D7 \u00B7 Take 1"]);
        for (const { device, port } of devices) {
            const score = device.oscTo("/loopbridge/score");
            assert.equal(score.length, 1);
            assert.equal(score[0][score[0].length - 1], port);
        }
    } finally {
        for (const { device } of devices) device.ctx.Device.stop();
        for (const s of sockets) s.close();
    }
});
