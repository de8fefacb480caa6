// Preloaded (NODE_OPTIONS=--require) into dist/dsys-linux-arm64 when it runs under qemu-user
// inside a lab host by tests/lab/arm64_test.ts, and nowhere else. qemu-user 7.2 (Debian 12) does
// not emulate the IP_MULTICAST_IF socket option and answers ENOPROTOOPT, on which dsys rightly
// refuses to send multicast. A lab host has one interface and routes 224.0.0.0/4 through it and
// nowhere else, so there the group's datagrams leave by that interface without the option; this
// lets the refusal pass, and only that one.
const dgram = require("node:dgram");

const setMulticastInterface = dgram.Socket.prototype.setMulticastInterface;
dgram.Socket.prototype.setMulticastInterface = function (address) {
  try {
    setMulticastInterface.call(this, address);
  } catch (error) {
    if (error?.code !== "ENOPROTOOPT") throw error;
  }
};
