// openTun(ifname, netnsPath?, { vnetHdr?: boolean }) -> fd
//
// Node has no ioctl() and no setns(). This opens /dev/net/tun and attaches it (TUNSETIFF, IFF_TUN | IFF_NO_PI) to the
// TUN device `ifname` -- creating a non-persistent one if it does not exist -- inside the network namespace at
// `netnsPath` (e.g. /run/netns/NAME), then returns the calling thread to its own namespace. setns(CLONE_NEWNET) only
// changes the calling thread, and the device is bound to the namespace current at open() time, so the returned fd
// keeps carrying that namespace's packets after we switch back. Nothing else: reading and writing packets is
// plain fs.read/fs.write on the fd from JavaScript.
// vnetHdr: every packet carries a virtio_net_hdr and the reader accepts TSO/checksum-offloaded packets (TUNSETOFFLOAD),
// so one read can move a 64 KiB TCP segment instead of 45 MTU-sized ones -- what VM hosts do; TCP sees the same wire.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace {

Napi::Value Fail(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Open + TUNSETIFF in whatever namespace the thread is in now. Returns fd or -errno; `step` names what failed.
int AttachTun(const std::string& name, bool vnetHdr, const char** step) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *step = "open /dev/net/tun";
    return -errno;
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    *step = "ioctl TUNSETIFF";
    return -err;
  }
  // Always set the offloads: they outlive the fd on a persistent device, and a reader without the virtio-net header
  // must not be handed TSO/partial-checksum packets left enabled by a previous reader.
  {
    unsigned int offload = vnetHdr ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
    if (ioctl(fd, TUNSETOFFLOAD, offload) < 0) {
      int err = errno;
      close(fd);
      *step = "ioctl TUNSETOFFLOAD";
      return -err;
    }
  }
  return fd;
}

Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "openTun(ifname: string, netnsPath?: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>();
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
    Napi::TypeError::New(env, "TUN device name must be 1-15 characters without '/'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string nsPath;
  if (info.Length() >= 2 && info[1].IsString()) nsPath = info[1].As<Napi::String>();
  bool vnetHdr = false;
  if (info.Length() >= 3 && info[2].IsObject()) {
    Napi::Value v = info[2].As<Napi::Object>().Get("vnetHdr");
    vnetHdr = v.IsBoolean() && v.As<Napi::Boolean>().Value();
  }

  const char* step = "";
  if (nsPath.empty()) {
    int fd = AttachTun(name, vnetHdr, &step);
    if (fd < 0) return Fail(env, std::string(step) + " " + name, -fd);
    return Napi::Number::New(env, fd);
  }

  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return Fail(env, "open /proc/thread-self/ns/net", errno);
  int target = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(self);
    return Fail(env, "open " + nsPath, err);
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(self);
    close(target);
    return Fail(env, "setns " + nsPath, err);
  }
  close(target);
  int fd = AttachTun(name, vnetHdr, &step);
  if (setns(self, CLONE_NEWNET) < 0) {
    // The main thread would stay in the lab's namespace: everything after would silently run in the wrong place.
    Napi::Error::Fatal("kdrift_tun", "cannot return to the original network namespace");
  }
  close(self);
  if (fd < 0) return Fail(env, std::string(step) + " " + name + " in " + nsPath, -fd);
  return Napi::Number::New(env, fd);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openTun", Napi::Function::New(env, OpenTun, "openTun"));
  return exports;
}

}  // namespace

NODE_API_MODULE(kdrift_tun, Init)
