// kdrift_bpf: a thin, generic node-addon-api binding to libbpf 1.1.
//
// One JS object per bpf_object: open (not yet loaded) → optional setAutoload / setMaxEntries → load → attach programs
// (links are owned by the object; closing it, or the process dying for any reason, detaches them: nothing is pinned)
// → maps (lookup / update / delete / keys, keys and values as Buffers) → ring buffers (records copied out, because
// they are mapped read-only) → close. Every failure throws an Error whose message carries libbpf's own output for the
// failing call (the verifier log for a rejected program) and whose `errno` / `code` say what the kernel returned.
#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// libbpf prints through one global callback; the binding runs on the JS thread only, so one buffer suffices.
// It is cleared before each libbpf call and read when the call fails.
std::string g_log;
const size_t kLogCap = 256 * 1024;

int CapturePrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && getenv("KDRIFT_BPF_DEBUG") == nullptr) return 0;
  char buf[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buf, sizeof(buf), fmt, copy);
  va_end(copy);
  if (n > 0 && g_log.size() < kLogCap) g_log.append(buf, std::min<size_t>(n, sizeof(buf) - 1));
  if (getenv("KDRIFT_BPF_DEBUG") != nullptr) vfprintf(stderr, fmt, args);
  return 0;
}

const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case ENOTSUP: return "ENOTSUP";
    case ENOMSG: return "ENOMSG";
    case ENOEXEC: return "ENOEXEC";
    default: return "EUNKNOWN";
  }
}

// The last `maxLines` lines of what libbpf printed for the failing call (a verifier log ends with the reason).
std::string LogTail(size_t maxLines) {
  std::string log = g_log;
  while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
  if (log.empty()) return log;
  size_t pos = log.size();
  for (size_t lines = 0; lines < maxLines && pos > 0; ++lines) {
    size_t nl = log.rfind('\n', pos - 1);
    if (nl == std::string::npos) { pos = 0; break; }
    pos = nl;
  }
  return pos == 0 ? log : "…" + log.substr(pos);
}

[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + strerror(err) + " (" + ErrnoName(err) + ")";
  std::string tail = LogTail(40);
  if (!tail.empty()) msg += "\n" + tail;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("libbpfLog", Napi::String::New(env, g_log));
  throw e;
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowType(info.Env(), std::string(name) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

bool IsPerCpu(enum bpf_map_type t) {
  return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Size of a value buffer as the kernel reads/writes it: per-CPU maps carry one 8-byte-aligned slot per possible CPU.
size_t ValueBytes(const struct bpf_map* map) {
  size_t v = bpf_map__value_size(map);
  if (!IsPerCpu(bpf_map__type(map))) return v;
  int cpus = libbpf_num_possible_cpus();
  return ((v + 7) / 8) * 8 * (cpus > 0 ? cpus : 1);
}

class RingBuffer;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod("load", &BpfObject::Load),
                           InstanceMethod("programs", &BpfObject::Programs),
                           InstanceMethod("maps", &BpfObject::Maps),
                           InstanceMethod("setAutoload", &BpfObject::SetAutoload),
                           InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
                           InstanceMethod("attachCgroup", &BpfObject::AttachCgroup),
                           InstanceMethod("attachTracepoint", &BpfObject::AttachTracepoint),
                           InstanceMethod("attach", &BpfObject::Attach),
                           InstanceMethod("detach", &BpfObject::Detach),
                           InstanceMethod("linkFd", &BpfObject::LinkFd),
                           InstanceMethod("mapLookup", &BpfObject::MapLookup),
                           InstanceMethod("mapUpdate", &BpfObject::MapUpdate),
                           InstanceMethod("mapDelete", &BpfObject::MapDelete),
                           InstanceMethod("mapKeys", &BpfObject::MapKeys),
                           InstanceMethod("mapValueSize", &BpfObject::MapValueSize),
                           InstanceMethod("ringBufferFd", &BpfObject::RingBufferFd),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  explicit BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    std::string path = StringArg(info, 0, "path");
    g_log.clear();
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (obj_ == nullptr) ThrowErrno(info.Env(), "cannot open BPF object " + path, errno);
  }

  ~BpfObject() override { Destroy(); }

 private:
  struct bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  // Link id = index; a detached link leaves a null slot so ids stay stable.
  std::vector<struct bpf_link*> links_;

  void Destroy() {
    for (auto*& l : links_) {
      if (l != nullptr) bpf_link__destroy(l);
      l = nullptr;
    }
    if (obj_ != nullptr) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  void RequireOpen(Napi::Env env) {
    if (obj_ == nullptr) throw Napi::Error::New(env, "BPF object is closed");
  }
  void RequireLoaded(Napi::Env env) {
    RequireOpen(env);
    if (!loaded_) throw Napi::Error::New(env, "BPF object is not loaded (call load() first)");
  }

  struct bpf_program* Prog(Napi::Env env, const std::string& name) {
    RequireOpen(env);
    struct bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
    if (p == nullptr) throw Napi::Error::New(env, "no BPF program named " + name + " in " + bpf_object__name(obj_));
    return p;
  }
  struct bpf_map* Map(Napi::Env env, const std::string& name) {
    RequireOpen(env);
    struct bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
    if (m == nullptr) throw Napi::Error::New(env, "no BPF map named " + name + " in " + bpf_object__name(obj_));
    return m;
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    RequireOpen(info.Env());
    if (loaded_) return info.Env().Undefined();
    g_log.clear();
    int err = bpf_object__load(obj_);
    if (err) ThrowErrno(info.Env(), std::string("cannot load BPF object ") + bpf_object__name(obj_), err);
    loaded_ = true;
    return info.Env().Undefined();
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    Napi::Array out = Napi::Array::New(env);
    struct bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, obj_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      const char* t = libbpf_bpf_prog_type_str(bpf_program__type(p));
      o.Set("type", t ? t : "unknown");
      o.Set("autoload", bpf_program__autoload(p));
      o.Set("fd", loaded_ ? bpf_program__fd(p) : -1);
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    Napi::Array out = Napi::Array::New(env);
    struct bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      const char* t = libbpf_bpf_map_type_str(bpf_map__type(m));
      o.Set("type", t ? t : "unknown");
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("perCpu", IsPerCpu(bpf_map__type(m)));
      o.Set("fd", loaded_ ? bpf_map__fd(m) : -1);
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo& info) {
    struct bpf_program* p = Prog(info.Env(), StringArg(info, 0, "program"));
    if (info.Length() < 2 || !info[1].IsBoolean()) ThrowType(info.Env(), "autoload must be a boolean");
    g_log.clear();
    int err = bpf_program__set_autoload(p, info[1].As<Napi::Boolean>().Value());
    if (err) ThrowErrno(info.Env(), "cannot set autoload", err);
    return info.Env().Undefined();
  }

  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info) {
    struct bpf_map* m = Map(info.Env(), StringArg(info, 0, "map"));
    if (info.Length() < 2 || !info[1].IsNumber()) ThrowType(info.Env(), "maxEntries must be a number");
    g_log.clear();
    int err = bpf_map__set_max_entries(m, info[1].As<Napi::Number>().Uint32Value());
    if (err) ThrowErrno(info.Env(), "cannot set max_entries", err);
    return info.Env().Undefined();
  }

  Napi::Value AddLink(Napi::Env env, struct bpf_link* link, const std::string& what) {
    if (link == nullptr) ThrowErrno(env, what, errno);
    links_.push_back(link);
    return Napi::Number::New(env, static_cast<double>(links_.size() - 1));
  }

  Napi::Value AttachCgroup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    std::string name = StringArg(info, 0, "program");
    std::string path = StringArg(info, 1, "cgroupPath");
    struct bpf_program* p = Prog(env, name);
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) ThrowErrno(env, "cannot open cgroup " + path, errno);
    g_log.clear();
    struct bpf_link* link = bpf_program__attach_cgroup(p, fd);
    int saved = errno;
    close(fd);  // the link holds its own reference to the cgroup
    errno = saved;
    return AddLink(env, link, "cannot attach " + name + " to cgroup " + path);
  }

  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    std::string name = StringArg(info, 0, "program");
    std::string category = StringArg(info, 1, "category");
    std::string tp = StringArg(info, 2, "name");
    g_log.clear();
    return AddLink(env, bpf_program__attach_tracepoint(Prog(env, name), category.c_str(), tp.c_str()),
                   "cannot attach " + name + " to tracepoint " + category + "/" + tp);
  }

  // libbpf's generic attach by section name (tp_btf/, tracepoint/, iter/, ...).
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    std::string name = StringArg(info, 0, "program");
    g_log.clear();
    return AddLink(env, bpf_program__attach(Prog(env, name)), "cannot attach " + name);
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "link id must be a number");
    int64_t id = info[0].As<Napi::Number>().Int64Value();
    if (id < 0 || static_cast<size_t>(id) >= links_.size() || links_[id] == nullptr) return Napi::Boolean::New(env, false);
    g_log.clear();
    int err = bpf_link__destroy(links_[id]);
    links_[id] = nullptr;
    if (err) ThrowErrno(env, "cannot detach link", err);
    return Napi::Boolean::New(env, true);
  }

  // The fd of an attached link, so a caller can hand a dup to another process (the link lives until every fd is
  // closed). Still owned here: do not close it.
  Napi::Value LinkFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(env, "link id must be a number");
    int64_t id = info[0].As<Napi::Number>().Int64Value();
    if (id < 0 || static_cast<size_t>(id) >= links_.size() || links_[id] == nullptr) ThrowType(env, "no such link");
    return Napi::Number::New(env, bpf_link__fd(links_[id]));
  }

  void CheckKey(Napi::Env env, struct bpf_map* m, const Napi::Buffer<uint8_t>& key) {
    if (key.Length() != bpf_map__key_size(m))
      ThrowType(env, std::string("key for ") + bpf_map__name(m) + " must be " + std::to_string(bpf_map__key_size(m)) +
                         " bytes, got " + std::to_string(key.Length()));
  }

  Napi::Value MapLookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    struct bpf_map* m = Map(env, StringArg(info, 0, "map"));
    auto key = BufferArg(info, 1, "key");
    CheckKey(env, m, key);
    size_t vsz = ValueBytes(m);
    std::vector<uint8_t> value(vsz);
    g_log.clear();
    int err = bpf_map__lookup_elem(m, key.Data(), key.Length(), value.data(), vsz, 0);
    if (err == -ENOENT) return env.Null();
    if (err) ThrowErrno(env, std::string("lookup in map ") + bpf_map__name(m) + " failed", err);
    return Napi::Buffer<uint8_t>::Copy(env, value.data(), vsz);
  }

  Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    struct bpf_map* m = Map(env, StringArg(info, 0, "map"));
    auto key = BufferArg(info, 1, "key");
    auto value = BufferArg(info, 2, "value");
    CheckKey(env, m, key);
    uint64_t flags = BPF_ANY;
    if (info.Length() > 3 && info[3].IsNumber()) flags = info[3].As<Napi::Number>().Int64Value();
    if (value.Length() != ValueBytes(m))
      ThrowType(env, std::string("value for ") + bpf_map__name(m) + " must be " + std::to_string(ValueBytes(m)) +
                         " bytes, got " + std::to_string(value.Length()));
    g_log.clear();
    int err = bpf_map__update_elem(m, key.Data(), key.Length(), value.Data(), value.Length(), flags);
    if (err) ThrowErrno(env, std::string("update of map ") + bpf_map__name(m) + " failed", err);
    return env.Undefined();
  }

  Napi::Value MapDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    struct bpf_map* m = Map(env, StringArg(info, 0, "map"));
    auto key = BufferArg(info, 1, "key");
    CheckKey(env, m, key);
    g_log.clear();
    int err = bpf_map__delete_elem(m, key.Data(), key.Length(), 0);
    if (err == -ENOENT) return Napi::Boolean::New(env, false);
    if (err) ThrowErrno(env, std::string("delete from map ") + bpf_map__name(m) + " failed", err);
    return Napi::Boolean::New(env, true);
  }

  // Every key, in the kernel's iteration order. Entries added or deleted meanwhile may or may not appear.
  Napi::Value MapKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    struct bpf_map* m = Map(env, StringArg(info, 0, "map"));
    size_t ksz = bpf_map__key_size(m);
    std::vector<uint8_t> cur(ksz), next(ksz);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    const void* prev = nullptr;
    g_log.clear();
    for (;;) {
      int err = bpf_map__get_next_key(m, prev, next.data(), ksz);
      if (err == -ENOENT) break;
      if (err) ThrowErrno(env, std::string("iteration of map ") + bpf_map__name(m) + " failed", err);
      out.Set(i++, Napi::Buffer<uint8_t>::Copy(env, next.data(), ksz));
      cur.swap(next);
      prev = cur.data();
      if (i > bpf_map__max_entries(m) + 1024u) break;  // a map churning under us must not loop forever
    }
    return out;
  }

  Napi::Value MapValueSize(const Napi::CallbackInfo& info) {
    struct bpf_map* m = Map(info.Env(), StringArg(info, 0, "map"));
    return Napi::Number::New(info.Env(), static_cast<double>(ValueBytes(m)));
  }

  Napi::Value RingBufferFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLoaded(env);
    struct bpf_map* m = Map(env, StringArg(info, 0, "map"));
    if (bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF) ThrowType(env, std::string(bpf_map__name(m)) + " is not a ring buffer");
    return Napi::Number::New(env, bpf_map__fd(m));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Destroy();
    return info.Env().Undefined();
  }
};

// A libbpf ring_buffer over one RINGBUF map fd. poll() blocks up to timeoutMs (epoll: needs producer wakeups);
// consume() never blocks (for producers that submit with BPF_RB_NO_WAKEUP, drained on a timer).
class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {
                           InstanceMethod("poll", &RingBuffer::Poll),
                           InstanceMethod("consume", &RingBuffer::Consume),
                           InstanceMethod("close", &RingBuffer::Close),
                       });
  }

  // new RingBuffer(mapFd, maxRecords?) — the fd must stay open (owned by the BpfObject) while this is in use.
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info) {
    if (info.Length() < 1 || !info[0].IsNumber()) ThrowType(info.Env(), "map fd must be a number");
    int fd = info[0].As<Napi::Number>().Int32Value();
    g_log.clear();
    rb_ = ring_buffer__new(fd, &RingBuffer::OnRecord, this, nullptr);
    if (rb_ == nullptr) ThrowErrno(info.Env(), "cannot create ring buffer", errno);
  }
  ~RingBuffer() override { Free(); }

 private:
  struct ring_buffer* rb_ = nullptr;
  std::vector<std::string> pending_;

  void Free() {
    if (rb_ != nullptr) ring_buffer__free(rb_);
    rb_ = nullptr;
  }

  // Records are mapped read-only: copy them out before returning to libbpf.
  static int OnRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    self->pending_.emplace_back(static_cast<const char*>(data), size);
    return 0;
  }

  Napi::Value Drain(Napi::Env env) {
    Napi::Array out = Napi::Array::New(env, pending_.size());
    for (size_t i = 0; i < pending_.size(); ++i)
      out.Set(static_cast<uint32_t>(i),
              Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(pending_[i].data()), pending_[i].size()));
    pending_.clear();
    return out;
  }

  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (rb_ == nullptr) throw Napi::Error::New(env, "ring buffer is closed");
    int timeout = 0;
    if (info.Length() > 0 && info[0].IsNumber()) timeout = info[0].As<Napi::Number>().Int32Value();
    g_log.clear();
    int n = ring_buffer__poll(rb_, timeout);
    if (n < 0 && n != -EINTR) ThrowErrno(env, "ring buffer poll failed", n);
    return Drain(env);
  }

  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (rb_ == nullptr) throw Napi::Error::New(env, "ring buffer is closed");
    g_log.clear();
    int n = ring_buffer__consume(rb_);
    if (n < 0 && n != -EINTR) ThrowErrno(env, "ring buffer consume failed", n);
    return Drain(env);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }
};

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "cannot count possible CPUs", n);
  return Napi::Number::New(info.Env(), n);
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
// The cookie of the calling thread's network namespace (what bpf_get_netns_cookie() returns for its sockets):
// the agent watches its own netns by default. Node has no getsockopt, hence this one non-BPF helper.
Napi::Value NetnsCookie(const Napi::CallbackInfo& info) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), "cannot create a socket", errno);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  int rc = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
  int saved = errno;
  close(fd);
  g_log.clear();
  if (rc != 0) ThrowErrno(info.Env(), "getsockopt(SO_NETNS_COOKIE) failed", saved);
  return Napi::BigInt::New(info.Env(), cookie);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(CapturePrint);
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingBuffer", RingBuffer::Init(env));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("netnsCookie", Napi::Function::New(env, NetnsCookie));
  return exports;
}

}  // namespace

NODE_API_MODULE(kdrift_bpf, Init)
