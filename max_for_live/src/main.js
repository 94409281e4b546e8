// The entry: the js object's inlets and outlets, and the device's messages. Max answers a message with
// the global function of its name, so these are the only global functions; every module above is an
// object, out of Max's reach.

autowatch = 0;
inlets = 1;
outlets = 8;

setinletassist(0, "OSC replies from udpreceive; init, scoretrack, sensitivity, setmodel, savedmodel, markok, marks, markcolour, asciimarks, replyport");
setoutletassist(0, "OSC messages to udpsend");
setoutletassist(1, "connection text (set ...)");
setoutletassist(2, "last result text (set ...)");
setoutletassist(3, "reasons text (set ...)");
setoutletassist(4, "progress and errors text (set ...)");
setoutletassist(5, "model menu (clear / append / setsymbol)");
setoutletassist(6, "set savedmodel <name>: stored with the Live Set by [pattr], which sends it back on load");
setoutletassist(7, "port <n> to udpreceive: the reply port derived for this device when the box says 0 (auto)");

function init() {
    Device.init();
}

function scoretrack() {
    Device.scoretrack();
}

function sensitivity(q) {
    Device.sensitivity(q);
}

function setmodel() {
    Device.setModel(arrayfromargs(arguments).join(" "));
}

function savedmodel() {
    Device.savedModel(arrayfromargs(arguments).join(" "));
}

function markok(on) {
    Device.setting("markOk", on);
}

function marks(on) {
    Device.setting("on", on);
}

function markcolour(on) {
    Device.setting("colour", on);
}

function asciimarks(on) {
    Device.setting("ascii", on);
}

function replyport(port) {
    Device.setReplyPort(port);
}

// OSC replies from [udpreceive]: the address is the message name.
function anything() {
    Device.reply(messagename, arrayfromargs(arguments));
}
