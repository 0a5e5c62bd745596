#include <crio/core/storage/store.hpp>

#include "storage/driver.hpp"
#include "storage/fsutil.hpp"
#include "storage/unpack.hpp"

#include <crio/core/digest.hpp>
#include <crio/core/fault.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/id.hpp>
#include <crio/core/log.hpp>

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

namespace crio::storage {

using detail::Driver;
using nlohmann::json;

std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id) {
  if (parent_chain_id.empty()) return diff_id;
  return core::sha256_of(parent_chain_id + " " + diff_id);
}

namespace {

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Chain IDs are given with or without "sha256:"; the store keeps the full form.
std::string normalize_digest(const std::string& s) {
  if (s.empty() || s.find(':') != std::string::npos) return s;
  return "sha256:" + s;
}

// The directory name of a layer: the encoded part of its chain ID.
std::string layer_dir_id(const std::string& chain) {
  auto colon = chain.find(':');
  return colon == std::string::npos ? chain : chain.substr(colon + 1);
}

bool is_hex(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool valid_image_id(const std::string& id) { return id.size() == 64 && is_hex(id); }

// A container ID becomes part of no path, but it is a key in files an operator reads.
bool valid_container_id(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}
void erase_value(std::vector<std::string>& v, const std::string& s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

json layer_to_json(const Layer& l) {
  return json{{"id", layer_dir_id(l.chain_id)},
              {"chain-id", l.chain_id},
              {"parent", l.parent},
              {"diff-digest", l.diff_id},
              {"compressed-diff-digest", l.compressed_digest},
              {"compressed-size", l.compressed_size},
              {"diff-size", l.size},
              {"created", l.created}};
}
Layer layer_from_json(const json& j) {
  Layer l;
  l.chain_id = j.value("chain-id", "");
  l.parent = j.value("parent", "");
  l.diff_id = j.value("diff-digest", "");
  l.compressed_digest = j.value("compressed-diff-digest", "");
  l.compressed_size = j.value("compressed-size", int64_t{0});
  l.size = j.value("diff-size", int64_t{0});
  l.created = j.value("created", int64_t{0});
  return l;
}

json image_to_json(const Image& i) {
  return json{{"id", i.id},           {"layer", i.top_layer}, {"names", i.names},
              {"digests", i.digests}, {"size", i.size},       {"created", i.created}};
}
Image image_from_json(const json& j) {
  Image i;
  i.id = j.value("id", "");
  i.top_layer = j.value("layer", "");
  i.names = j.value("names", std::vector<std::string>{});
  i.digests = j.value("digests", std::vector<std::string>{});
  i.size = j.value("size", int64_t{0});
  i.created = j.value("created", int64_t{0});
  return i;
}

json container_to_json(const ContainerLayer& c) {
  return json{{"id", c.id}, {"image", c.image_id}, {"layer", c.layer_id}, {"created", c.created}};
}
ContainerLayer container_from_json(const json& j) {
  ContainerLayer c;
  c.id = j.value("id", "");
  c.image_id = j.value("image", "");
  c.layer_id = j.value("layer", "");
  c.created = j.value("created", int64_t{0});
  return c;
}

// Reads a JSON array file; a missing file is an empty store.
Result<json> load_json_array(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return json::array();
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !(j.is_array() || j.is_object())) {
    return error(Code::kDataLoss, "storage metadata {} is not valid JSON", path);
  }
  return j;
}

std::vector<std::string> list_names(const std::string& dir) {
  auto names = fs::list_dir(dir);
  return names.ok() ? std::move(*names) : std::vector<std::string>{};
}

// A layer's file list as committed: [path, type, size] per entry, type one of
// f d l c b p s. What `check` compares a layer's directory with, to find a file that
// was truncated, replaced or removed since.
char type_char(std::filesystem::file_type t) {
  using T = std::filesystem::file_type;
  switch (t) {
    case T::regular: return 'f';
    case T::directory: return 'd';
    case T::symlink: return 'l';
    case T::character: return 'c';
    case T::block: return 'b';
    case T::fifo: return 'p';
    case T::socket: return 's';
    default: return '?';
  }
}

Result<json> contents_of(const std::string& dir) {
  namespace stdfs = std::filesystem;
  json out = json::array();
  std::error_code ec;
  stdfs::recursive_directory_iterator it(dir, stdfs::directory_options::none, ec), end;
  if (ec) return error(Code::kInternal, "listing {}: {}", dir, ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return error(Code::kInternal, "listing {}: {}", dir, ec.message());
    auto st = it->symlink_status(ec);
    if (ec) return error(Code::kInternal, "reading {}: {}", it->path().string(), ec.message());
    char t = type_char(st.type());
    int64_t size = t == 'f' ? static_cast<int64_t>(it->file_size(ec)) : 0;
    out.push_back(json::array({it->path().lexically_relative(dir).string(), std::string(1, t), size}));
  }
  return out;
}

// What differs between a layer's directory and its committed list; "" when nothing.
// `full_tree`: the directory holds the parent layers' files too (vfs), so only the
// listed entries are looked at and whiteouts (applied, hence absent) are skipped.
std::string contents_differ(const std::string& dir, const json& listed, bool full_tree) {
  namespace stdfs = std::filesystem;
  std::set<std::string> seen;
  for (const auto& e : listed) {
    if (!e.is_array() || e.size() != 3) return "its file list is malformed";
    const std::string path = e[0].get<std::string>();
    const std::string type = e[1].get<std::string>();
    const int64_t size = e[2].get<int64_t>();
    seen.insert(path);
    if (full_tree && type == "c") continue;
    std::error_code ec;
    auto st = stdfs::symlink_status(dir + "/" + path, ec);
    if (ec || st.type() == stdfs::file_type::not_found) return fmt::format("{} is missing", path);
    if (std::string(1, type_char(st.type())) != type) return fmt::format("{} changed type", path);
    if (type == "f") {
      auto now = static_cast<int64_t>(stdfs::file_size(dir + "/" + path, ec));
      if (!ec && now != size) return fmt::format("{} has {} bytes, {} when committed", path, now, size);
    }
  }
  if (!full_tree) {
    auto now = contents_of(dir);
    if (!now.ok()) return now.status().message();
    for (const auto& e : *now) {
      if (seen.count(e[0].get<std::string>()) == 0) {
        return fmt::format("{} was not in the layer when committed", e[0].get<std::string>());
      }
    }
  }
  return "";
}

}  // namespace

struct Store::Impl {
  StoreOptions opts;
  std::unique_ptr<Driver> driver;  // image layers
  // Containers' layers: `driver` itself, or one under root when images live in an
  // imagestore.
  std::unique_ptr<Driver> own_container_driver;
  Driver* container_driver = nullptr;
  fs::UniqueFd lock_fd, image_store_lock_fd;
  // Staging directories sit beside what they become, so that committing is a rename.
  std::string layers_dir, images_dir, containers_dir, staging_dir, container_staging_dir, mounts_file;

  mutable std::mutex mu;
  // Guarded by mu:
  std::map<std::string, Layer> layers;  // by chain ID
  std::map<std::string, Image> images;  // by id
  std::map<std::string, ContainerLayer> containers;
  std::map<std::string, std::string> creating;  // container id → image id, while its layer is built
  std::map<std::string, int> mounts;            // container id → mount references

  std::string layers_file() const { return layers_dir + "/layers.json"; }
  std::string images_file() const { return images_dir + "/images.json"; }
  std::string containers_file() const { return containers_dir + "/containers.json"; }
  std::string image_dir(const std::string& id) const { return images_dir + "/" + id; }
  // The committed file list of layer `id` (see contents_of).
  std::string contents_file(const std::string& id) const { return layers_dir + "/" + id + ".contents"; }

  Status save_layers() const {
    json j = json::array();
    for (const auto& [_, l] : layers) j.push_back(layer_to_json(l));
    return fs::write_file_atomic(layers_file(), j.dump(1), 0600);
  }
  Status save_images() const {
    json j = json::array();
    for (const auto& [_, i] : images) j.push_back(image_to_json(i));
    return fs::write_file_atomic(images_file(), j.dump(1), 0600);
  }
  Status save_containers() const {
    json j = json::array();
    for (const auto& [_, c] : containers) j.push_back(container_to_json(c));
    return fs::write_file_atomic(containers_file(), j.dump(1), 0600);
  }
  Status save_mounts() const {
    json j = json::object();
    for (const auto& [id, n] : mounts) {
      if (n > 0) j[id] = n;
    }
    return fs::write_file_atomic(mounts_file, j.dump(), 0600);
  }

  Result<std::string> new_staging(bool for_container = false) const {
    std::string dir = (for_container ? container_staging_dir : staging_dir) + "/" + core::random_hex(32);
    if (::mkdir(dir.c_str(), 0700) != 0) return detail::errno_error("creating staging directory", dir, errno);
    return dir;
  }

  // The chain IDs from `top` down to the base layer.
  std::vector<std::string> chain_of(const std::string& top) const {
    std::vector<std::string> out;
    std::string cur = top;
    while (!cur.empty()) {
      auto it = layers.find(cur);
      if (it == layers.end()) break;
      out.push_back(cur);
      cur = it->second.parent;
    }
    return out;
  }

  const Image* lookup(const std::string& ref) const {
    if (ref.empty()) return nullptr;
    std::string key = ref;
    if (key.rfind("sha256:", 0) == 0 && valid_image_id(key.substr(7))) key = key.substr(7);
    if (auto it = images.find(key); it != images.end()) return &it->second;
    for (const auto& [_, img] : images) {
      if (std::find(img.names.begin(), img.names.end(), ref) != img.names.end()) return &img;
    }
    for (const auto& [_, img] : images) {
      if (std::find(img.digests.begin(), img.digests.end(), ref) != img.digests.end()) return &img;
    }
    // A unique id prefix, as containers/storage's truncindex resolves it.
    if (!is_hex(key)) return nullptr;
    const Image* found = nullptr;
    for (auto it = images.lower_bound(key); it != images.end() && it->first.rfind(key, 0) == 0; ++it) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = &it->second;
    }
    return found;
  }

  // Reads the manifest and config kept beside images.json; images are then served
  // from memory (the kubelet lists them every few seconds).
  void load_data(Image& img) const {
    if (auto m = fs::read_file(image_dir(img.id) + "/manifest"); m.ok()) img.manifest = std::move(*m);
    if (auto c = fs::read_file(image_dir(img.id) + "/config"); c.ok()) img.config = std::move(*c);
  }

  // Opens (creating) the directories and takes the lock; no records are read yet.
  static Result<std::unique_ptr<Impl>> open(const StoreOptions& options);
  Status read_records();
  // Reads the records and repairs what a crash can leave (see Store::open).
  Status load();
  CheckReport inspect(const CheckOptions& options) const;
};

Status Store::Impl::read_records() {
  CRIO_ASSIGN_OR_RETURN(auto lj, load_json_array(layers_file()));
  for (const auto& e : lj) {
    Layer l = layer_from_json(e);
    if (!l.chain_id.empty()) layers[l.chain_id] = l;
  }
  CRIO_ASSIGN_OR_RETURN(auto ij, load_json_array(images_file()));
  for (const auto& e : ij) {
    Image i = image_from_json(e);
    if (i.id.empty()) continue;
    load_data(i);
    images[i.id] = std::move(i);
  }
  CRIO_ASSIGN_OR_RETURN(auto cj, load_json_array(containers_file()));
  for (const auto& e : cj) {
    ContainerLayer c = container_from_json(e);
    if (!c.id.empty()) containers[c.id] = c;
  }
  return ok_status();
}

Status Store::Impl::load() {
  CRIO_RETURN_IF_ERROR(read_records());

  // Temp files of an atomic write that a crash interrupted.
  for (const auto& dir : {layers_dir, images_dir, containers_dir}) {
    for (const auto& n : list_names(dir)) {
      if (n.find(".tmp-") != std::string::npos) CRIO_RETURN_IF_ERROR(fs::remove_file(dir + "/" + n));
    }
  }
  // Whatever a crash left in staging is garbage by construction.
  for (const auto& dir : {staging_dir, container_staging_dir}) {
    for (const auto& n : list_names(dir)) CRIO_RETURN_IF_ERROR(detail::remove_tree(dir + "/" + n));
  }

  // Driver directories without a record were being created or deleted.
  std::set<std::string> ids, container_ids;
  for (const auto& [chain, _] : layers) ids.insert(layer_dir_id(chain));
  for (const auto& [_, c] : containers) container_ids.insert(c.layer_id);
  if (container_driver == driver.get()) {
    ids.insert(container_ids.begin(), container_ids.end());
    CRIO_RETURN_IF_ERROR(driver->recover(ids));
  } else {
    CRIO_RETURN_IF_ERROR(driver->recover(ids));
    CRIO_RETURN_IF_ERROR(container_driver->recover(container_ids));
  }

  // Records whose directory is gone (removed by hand) cannot be used; say so.
  bool changed = false;
  for (auto it = layers.begin(); it != layers.end();) {
    struct stat st {};
    if (::stat(driver->data_dir(layer_dir_id(it->first)).c_str(), &st) != 0) {
      log::warn("storage: dropping layer whose directory is missing", {{"layer", it->first}});
      it = layers.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) CRIO_RETURN_IF_ERROR(save_layers());

  // Image data directories without a record.
  for (const auto& n : list_names(images_dir)) {
    if (n.find('.') != std::string::npos) continue;  // images.json and its temp files
    if (images.count(n) == 0) CRIO_RETURN_IF_ERROR(detail::remove_tree(images_dir + "/" + n));
  }

  // Mount references survive a daemon restart (runroot), not a reboot: keep only
  // those still mounted.
  if (auto text = fs::read_file(mounts_file); text.ok()) {
    json j = json::parse(*text, nullptr, false);
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        auto c = containers.find(it.key());
        if (c == containers.end() || !it.value().is_number_integer()) continue;
        if (driver->name() == "vfs" || container_driver->mounted(c->second.layer_id)) {
          mounts[it.key()] = it.value().get<int>();
        }
      }
    }
  }
  return save_mounts();
}

// ---------------------------------------------------------------------------------
// LayerWriter

struct LayerWriter::Impl {
  Store::Impl* store = nullptr;
  std::string parent;  // chain ID or ""
  std::string staging;
  std::string unpack_dir;
  bool applied = false;
  bool failed = false;
  bool committed = false;
  int64_t size = 0;
};

LayerWriter::LayerWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LayerWriter::~LayerWriter() {
  if (impl_ && !impl_->staging.empty()) {
    Status s = detail::remove_tree(impl_->staging);
    if (!s.ok()) log::warn("storage: removing staging directory", {{"error", s.message()}});
  }
}

Status LayerWriter::apply_tar(const std::function<Result<size_t>(char* buf, size_t len)>& read) {
  auto& w = *impl_;
  if (w.failed || w.committed || w.applied) {
    return error(Code::kFailedPrecondition, "layer writer over {:?}: a tar was already applied or the writer failed",
                 w.parent);
  }
  auto n = detail::unpack_tar(w.unpack_dir, read);
  if (!n.ok()) {
    w.failed = true;
    // Nothing half-unpacked stays on disk.
    Status s = detail::remove_tree(w.staging);
    if (!s.ok()) log::warn("storage: removing staging directory", {{"error", s.message()}});
    // A full disk is the operator's to fix: say which one.
    if (n.status().code() == Code::kResourceExhausted) return n.status().wrap(fmt::format("unpacking into {}", w.unpack_dir));
    return n.status();
  }
  w.size = *n;
  w.applied = true;
  return ok_status();
}

Result<Layer> LayerWriter::commit(const std::string& diff_id_in, const std::string& compressed_digest,
                                  int64_t compressed_size) {
  auto& w = *impl_;
  if (!w.applied || w.failed || w.committed) {
    return error(Code::kFailedPrecondition, "committing layer over {:?}: no tar was applied successfully", w.parent);
  }
  std::string diff_id = normalize_digest(diff_id_in);
  if (auto d = core::parse_digest(diff_id); !d.ok()) return d.status().wrap("committing layer: diff ID");
  if (!compressed_digest.empty()) {
    if (auto d = core::parse_digest(compressed_digest); !d.ok()) {
      return d.status().wrap("committing layer: compressed digest");
    }
  }
  Store::Impl& s = *w.store;
  std::string chain = chain_id(w.parent, diff_id);
  std::string id = layer_dir_id(chain);

  // The staging directory goes once the lock is released: for vfs it is a whole tree.
  auto discard = [&](std::unique_lock<std::mutex>& lock) {
    w.committed = true;
    lock.unlock();
    Status st = detail::remove_tree(w.staging);
    if (!st.ok()) log::warn("storage: removing staging directory", {{"error", st.message()}});
  };
  {
    std::unique_lock lock(s.mu);
    if (auto it = s.layers.find(chain); it != s.layers.end()) {
      Layer existing = it->second;
      discard(lock);
      return existing;
    }
    if (!w.parent.empty() && s.layers.count(w.parent) == 0) {
      return error(Code::kFailedPrecondition, "committing layer {}: parent layer {} is not in the store", chain,
                   w.parent);
    }
  }
  auto contents = contents_of(w.unpack_dir);
  if (!contents.ok()) log::warn("storage: listing a new layer", {{"error", contents.status().message()}});
  // The slow part (vfs copies the parent) runs unlocked.
  Status prepared = s.driver->prepare_layer(w.staging, layer_dir_id(w.parent));
  if (!prepared.ok()) {
    w.failed = true;
    return prepared.wrap(fmt::format("committing layer {}", chain));
  }

  std::unique_lock lock(s.mu);
  if (auto it = s.layers.find(chain); it != s.layers.end()) {
    Layer existing = it->second;  // another pull of the same layer won
    discard(lock);
    return existing;
  }
  if (!w.parent.empty() && s.layers.count(w.parent) == 0) {
    return error(Code::kFailedPrecondition, "committing layer {}: parent layer {} was removed meanwhile", chain,
                 w.parent);
  }
  Layer l;
  l.chain_id = chain;
  l.parent = w.parent;
  l.diff_id = diff_id;
  l.compressed_digest = compressed_digest;
  l.compressed_size = compressed_size;
  l.size = w.size;
  l.created = now_unix();
  CRIO_RETURN_IF_ERROR(s.driver->install(w.staging, id).wrap(fmt::format("committing layer {}", chain)));
  CRIO_FAULT_POINT(pull_layer_install);
  s.layers[chain] = l;
  if (Status st = s.save_layers(); !st.ok()) {
    s.layers.erase(chain);
    (void)s.driver->remove(id, w.staging + "/undo");
    return st.wrap(fmt::format("committing layer {}", chain));
  }
  if (contents.ok()) {
    if (Status st = fs::write_file_atomic(s.contents_file(id), contents->dump(), 0600); !st.ok()) {
      log::warn("storage: keeping a layer's file list", {{"layer", chain}, {"error", st.message()}});
    }
  }
  CRIO_FAULT_POINT(pull_layer_commit);
  discard(lock);
  return l;
}

// ---------------------------------------------------------------------------------
// Store

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const StoreOptions& Store::options() const { return impl_->opts; }

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  CRIO_ASSIGN_OR_RETURN(auto impl, Impl::open(options));
  CRIO_RETURN_IF_ERROR(impl->load().wrap(fmt::format("opening storage {}", options.root)));
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::unique_ptr<Store::Impl>> Store::Impl::open(const StoreOptions& options) {
  if (options.root.empty() || options.root[0] != '/') {
    return error(Code::kInvalidArgument, "storage root {:?}: must be an absolute path", options.root);
  }
  if (options.runroot.empty() || options.runroot[0] != '/') {
    return error(Code::kInvalidArgument, "storage runroot {:?}: must be an absolute path", options.runroot);
  }
  if (options.driver != "overlay" && options.driver != "vfs") {
    return error(Code::kInvalidArgument, "storage driver {:?}: unsupported (want overlay or vfs)", options.driver);
  }
  if (!options.image_store.empty() && options.image_store[0] != '/') {
    return error(Code::kInvalidArgument, "imagestore {:?}: must be an absolute path", options.image_store);
  }
  if (!options.image_store.empty() && options.driver != "overlay") {
    return error(Code::kInvalidArgument, "imagestore {:?}: only the overlay driver keeps images apart (driver {:?})",
                 options.image_store, options.driver);
  }
  detail::DriverOptions dopts;
  for (const auto& raw : options.options) {
    std::string o = raw;
    for (const char* prefix : {"overlay.", "overlay2.", "."}) {
      if (o.rfind(prefix, 0) == 0) {
        o = o.substr(std::strlen(prefix));
        break;
      }
    }
    auto eq = o.find('=');
    std::string key = o.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : o.substr(eq + 1);
    if (options.driver == "overlay" && key == "mountopt") {
      size_t pos = 0;
      while (pos < value.size()) {
        size_t next = value.find(',', pos);
        if (next == std::string::npos) next = value.size();
        if (next > pos) dopts.mountopts.push_back(value.substr(pos, next - pos));
        pos = next + 1;
      }
    } else if (options.driver == "overlay" && key == "mount_program") {
      if (value.empty() || value[0] != '/') {
        return error(Code::kInvalidArgument, "storage option {:?}: mount_program must be an absolute path", raw);
      }
      dopts.mount_program = value;
    } else if (options.driver == "vfs" && key == "ignore_chown_errors" && value == "false") {
      // The default: chown errors are errors.
    } else {
      log::warn("storage: ignoring unsupported driver option", {{"option", raw}, {"driver", options.driver}});
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  CRIO_RETURN_IF_ERROR(fs::make_dirs(options.root, 0700));
  CRIO_RETURN_IF_ERROR(fs::make_dirs(options.runroot, 0700));

  std::string lock_path = options.root + "/storage.lock";
  impl->lock_fd.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!impl->lock_fd.valid()) return detail::errno_error("opening", lock_path, errno);
  if (::flock(impl->lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return error(Code::kFailedPrecondition, "storage root {}: in use by another process (lock {})", options.root,
                   lock_path);
    }
    return detail::errno_error("locking", lock_path, errno);
  }

  const std::string image_root = options.image_store.empty() ? options.root : options.image_store;
  if (!options.image_store.empty()) {
    CRIO_RETURN_IF_ERROR(fs::make_dirs(image_root, 0700));
    std::string image_lock = image_root + "/storage.lock";
    impl->image_store_lock_fd.reset(::open(image_lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!impl->image_store_lock_fd.valid()) return detail::errno_error("opening", image_lock, errno);
    if (::flock(impl->image_store_lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return error(Code::kFailedPrecondition, "imagestore {}: in use by another process (lock {})", image_root,
                     image_lock);
      }
      return detail::errno_error("locking", image_lock, errno);
    }
  }

  const std::string& d = options.driver;
  impl->layers_dir = image_root + "/" + d + "-layers";
  impl->images_dir = image_root + "/" + d + "-images";
  impl->containers_dir = options.root + "/" + d + "-containers";
  impl->staging_dir = image_root + "/" + d + "-staging";
  impl->container_staging_dir = options.root + "/" + d + "-staging";
  std::string run_layers = options.runroot + "/" + d + "-layers";
  impl->mounts_file = run_layers + "/mountpoints.json";
  for (const auto& dir : {impl->layers_dir, impl->images_dir, impl->containers_dir, impl->staging_dir,
                          impl->container_staging_dir, run_layers}) {
    CRIO_RETURN_IF_ERROR(fs::make_dirs(dir, 0700));
  }
  if (d == "overlay") {
    dopts.home = image_root + "/overlay";
    if (!options.image_store.empty()) {
      detail::DriverOptions copts = dopts;
      copts.layers_home = dopts.home;
      copts.home = options.root + "/overlay";
      impl->own_container_driver = detail::make_overlay_driver(std::move(copts));
    }
    impl->driver = detail::make_overlay_driver(std::move(dopts));
  } else {
    dopts.home = options.root + "/vfs/dir";
    impl->driver = detail::make_vfs_driver(std::move(dopts));
  }
  CRIO_RETURN_IF_ERROR(impl->driver->init());
  impl->container_driver = impl->driver.get();
  if (impl->own_container_driver) {
    CRIO_RETURN_IF_ERROR(impl->own_container_driver->init());
    impl->container_driver = impl->own_container_driver.get();
  }
  return impl;
}

Result<std::unique_ptr<LayerWriter>> Store::begin_layer(std::string parent_chain_id) {
  std::string parent = normalize_digest(parent_chain_id);
  if (!parent.empty()) {
    if (auto d = core::parse_digest(parent); !d.ok()) return d.status().wrap("beginning layer: parent chain ID");
  }
  auto w = std::make_unique<LayerWriter::Impl>();
  w->store = impl_.get();
  w->parent = parent;
  CRIO_ASSIGN_OR_RETURN(w->staging, impl_->new_staging());
  auto unpack = impl_->driver->make_unpack_dir(w->staging);
  if (!unpack.ok()) {
    (void)detail::remove_tree(w->staging);
    return unpack.status();
  }
  w->unpack_dir = *unpack;
  return std::unique_ptr<LayerWriter>(new LayerWriter(std::move(w)));
}

std::optional<Layer> Store::layer(const std::string& chain) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->layers.find(normalize_digest(chain));
  if (it == impl_->layers.end()) return std::nullopt;
  return it->second;
}

std::vector<Layer> Store::layers() const {
  std::lock_guard lock(impl_->mu);
  std::vector<Layer> out;
  for (const auto& [_, l] : impl_->layers) out.push_back(l);
  return out;
}

Result<Image> Store::create_image(ImageRecord rec) {
  auto& s = *impl_;
  if (rec.id.rfind("sha256:", 0) == 0) rec.id = rec.id.substr(7);
  if (!valid_image_id(rec.id)) {
    return error(Code::kInvalidArgument, "image id {:?}: must be 64 lowercase hex digits (the config digest)", rec.id);
  }
  rec.top_layer = normalize_digest(rec.top_layer);
  std::lock_guard lock(s.mu);
  if (!rec.top_layer.empty() && s.layers.count(rec.top_layer) == 0) {
    return error(Code::kFailedPrecondition, "image {}: top layer {} is not in the store", rec.id, rec.top_layer);
  }
  auto saved = s.images;
  Image* img;
  if (auto it = s.images.find(rec.id); it != s.images.end()) {
    img = &it->second;
    if (!rec.top_layer.empty()) img->top_layer = rec.top_layer;
    if (rec.size != 0) img->size = rec.size;
    if (!rec.manifest.empty()) img->manifest = rec.manifest;
    if (!rec.config.empty()) img->config = rec.config;
  } else {
    Image fresh;
    fresh.id = rec.id;
    fresh.top_layer = rec.top_layer;
    fresh.size = rec.size;
    fresh.manifest = rec.manifest;
    fresh.config = rec.config;
    fresh.created = now_unix();
    img = &(s.images[rec.id] = fresh);
  }
  // A tag names one image: it moves from whichever image held it.
  for (auto& [id, other] : s.images) {
    if (id == rec.id) continue;
    for (const auto& n : rec.names) erase_value(other.names, n);
    for (const auto& n : rec.digests) erase_value(other.digests, n);
  }
  for (const auto& n : rec.names) add_unique(img->names, n);
  for (const auto& n : rec.digests) add_unique(img->digests, n);

  std::string dir = s.image_dir(rec.id);
  Status st = fs::make_dirs(dir, 0700);
  if (st.ok() && !rec.manifest.empty()) st = fs::write_file_atomic(dir + "/manifest", rec.manifest, 0600);
  if (st.ok() && !rec.config.empty()) st = fs::write_file_atomic(dir + "/config", rec.config, 0600);
  if (st.ok()) CRIO_FAULT_POINT(pull_image_record);
  if (st.ok()) st = s.save_images();
  if (!st.ok()) {
    bool was_new = saved.count(rec.id) == 0;
    s.images = std::move(saved);
    if (was_new) (void)detail::remove_tree(dir);
    return st.wrap(fmt::format("storing image {}", rec.id));
  }
  return s.images[rec.id];
}

std::optional<Image> Store::image(const std::string& ref) const {
  std::lock_guard lock(impl_->mu);
  const Image* img = impl_->lookup(ref);
  if (img == nullptr) return std::nullopt;
  return *img;
}

std::vector<Image> Store::images() const {
  std::lock_guard lock(impl_->mu);
  std::vector<Image> out;
  for (const auto& [_, img] : impl_->images) out.push_back(img);
  return out;
}

Status Store::remove_image_name(const std::string& image_id, const std::string& name) {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  const Image* found = s.lookup(image_id);
  if (found == nullptr) return error(Code::kNotFound, "image {}: not in the store", image_id);
  Image& img = s.images[found->id];
  auto saved = img;
  auto before = img.names.size() + img.digests.size();
  erase_value(img.names, name);
  erase_value(img.digests, name);
  if (img.names.size() + img.digests.size() == before) {
    return error(Code::kNotFound, "image {}: has no name {:?}", img.id, name);
  }
  if (Status st = s.save_images(); !st.ok()) {
    img = saved;
    return st;
  }
  return ok_status();
}

Status Store::delete_image(const std::string& id_in) {
  auto& s = *impl_;
  std::string id = id_in.rfind("sha256:", 0) == 0 ? id_in.substr(7) : id_in;
  std::vector<std::string> trash;
  {
    std::lock_guard lock(s.mu);
    auto it = s.images.find(id);
    if (it == s.images.end()) return error(Code::kNotFound, "image {}: not in the store", id_in);
    for (const auto& [cid, c] : s.containers) {
      if (c.image_id == id) return error(Code::kFailedPrecondition, "image {}: in use by container {}", id, cid);
    }
    for (const auto& [cid, image] : s.creating) {
      if (image == id) return error(Code::kFailedPrecondition, "image {}: in use by container {}", id, cid);
    }
    std::set<std::string> keep;
    for (const auto& [other, img] : s.images) {
      if (other == id) continue;
      for (const auto& l : s.chain_of(img.top_layer)) keep.insert(l);
    }
    std::vector<std::string> drop;
    for (const auto& l : s.chain_of(it->second.top_layer)) {
      if (keep.count(l) == 0) drop.push_back(l);
    }

    // Records first: a crash after this leaves directories that open() removes.
    Image saved = it->second;
    s.images.erase(it);
    if (Status st = s.save_images(); !st.ok()) {
      s.images[id] = saved;
      return st.wrap(fmt::format("deleting image {}", id));
    }
    CRIO_FAULT_POINT(remove_image_record);
    std::map<std::string, Layer> dropped;
    for (const auto& l : drop) {
      dropped[l] = s.layers[l];
      s.layers.erase(l);
    }
    if (Status st = s.save_layers(); !st.ok()) {
      // The image is gone; its layers stay recorded and will be reused by a re-pull.
      s.layers.merge(dropped);
      log::warn("storage: keeping layers of deleted image", {{"image", id}, {"error", st.message()}});
      drop.clear();
    }
    CRIO_FAULT_POINT(remove_image_layers);
    for (const auto& l : drop) {
      auto staging = s.new_staging();
      if (!staging.ok()) return staging.status();
      std::string t = *staging + "/layer";
      CRIO_RETURN_IF_ERROR(s.driver->remove(layer_dir_id(l), t));
      (void)fs::remove_file(s.contents_file(layer_dir_id(l)));
      trash.push_back(*staging);
    }
    auto staging = s.new_staging();
    if (staging.ok()) {
      if (::rename(s.image_dir(id).c_str(), (*staging + "/image").c_str()) != 0 && errno != ENOENT) {
        log::warn("storage: moving image data away", {{"image", id}, {"error", std::strerror(errno)}});
      }
      trash.push_back(*staging);
    }
  }
  // The big removals run unlocked; what stays behind is removed at the next open.
  for (const auto& t : trash) {
    if (Status st = detail::remove_tree(t); !st.ok()) log::warn("storage: removing", {{"error", st.message()}});
  }
  return ok_status();
}

Result<size_t> Store::remove_unreferenced_layers() {
  auto& s = *impl_;
  std::vector<std::string> trash;
  size_t dropped = 0;
  {
    std::lock_guard lock(s.mu);
    std::set<std::string> keep;
    for (const auto& [_, img] : s.images) {
      for (const auto& l : s.chain_of(img.top_layer)) keep.insert(l);
    }
    std::map<std::string, Layer> drop;
    for (const auto& [chain, layer] : s.layers) {
      if (keep.count(chain) == 0) drop[chain] = layer;
    }
    if (drop.empty()) return size_t{0};
    for (const auto& [chain, _] : drop) s.layers.erase(chain);
    // Records first, as delete_image does: a crash now leaves directories open() removes.
    if (Status st = s.save_layers(); !st.ok()) {
      s.layers.merge(drop);
      return st.wrap("removing unreferenced layers");
    }
    for (const auto& [chain, _] : drop) {
      log::info("storage: removing a layer no image uses", {{"layer", chain}});
      CRIO_ASSIGN_OR_RETURN(std::string staging, s.new_staging());
      CRIO_RETURN_IF_ERROR(s.driver->remove(layer_dir_id(chain), staging + "/layer"));
      (void)fs::remove_file(s.contents_file(layer_dir_id(chain)));
      trash.push_back(staging);
      ++dropped;
    }
  }
  for (const auto& t : trash) {
    if (Status st = detail::remove_tree(t); !st.ok()) log::warn("storage: removing", {{"error", st.message()}});
  }
  return dropped;
}

Result<ContainerLayer> Store::create_container(const std::string& id, const std::string& image_ref) {
  auto& s = *impl_;
  if (!valid_container_id(id)) return error(Code::kInvalidArgument, "container id {:?}: invalid", id);
  std::string image_id, top;
  {
    std::lock_guard lock(s.mu);
    if (s.containers.count(id) != 0 || s.creating.count(id) != 0) {
      return error(Code::kAlreadyExists, "container {}: already has a layer", id);
    }
    const Image* img = s.lookup(image_ref);
    if (img == nullptr) return error(Code::kNotFound, "container {}: image {} not in the store", id, image_ref);
    image_id = img->id;
    top = img->top_layer;
    s.creating[id] = image_id;
  }
  auto release = [&]() {
    std::lock_guard lock(s.mu);
    s.creating.erase(id);
  };
  auto staging = s.new_staging(true);
  if (!staging.ok()) {
    release();
    return staging.status();
  }
  auto cleanup = [&](const Status& st) {
    (void)detail::remove_tree(*staging);
    release();
    return st.wrap(fmt::format("creating layer for container {}", id));
  };
  // Layers of an image in `creating` cannot be deleted, so `top` stays.
  if (Status st = s.container_driver->prepare_container(*staging, layer_dir_id(top)); !st.ok()) return cleanup(st);

  ContainerLayer c;
  c.id = id;
  c.image_id = image_id;
  c.layer_id = core::random_hex(64);
  c.created = now_unix();
  {
    std::lock_guard lock(s.mu);
    Status st = s.container_driver->install(*staging, c.layer_id);
    if (st.ok()) {
      s.containers[id] = c;
      st = s.save_containers();
      if (!st.ok()) {
        s.containers.erase(id);
        (void)s.container_driver->remove(c.layer_id, *staging + "/undo");
      }
    }
    s.creating.erase(id);
    if (!st.ok()) {
      (void)detail::remove_tree(*staging);
      return st.wrap(fmt::format("creating layer for container {}", id));
    }
  }
  (void)detail::remove_tree(*staging);
  return c;
}

std::optional<ContainerLayer> Store::container(const std::string& id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->containers.find(id);
  if (it == impl_->containers.end()) return std::nullopt;
  return it->second;
}

std::vector<ContainerLayer> Store::containers() const {
  std::lock_guard lock(impl_->mu);
  std::vector<ContainerLayer> out;
  for (const auto& [_, c] : impl_->containers) out.push_back(c);
  return out;
}

Result<std::string> Store::mount(const std::string& id) {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  auto it = s.containers.find(id);
  if (it == s.containers.end()) return error(Code::kNotFound, "container {}: no layer in the store", id);
  CRIO_ASSIGN_OR_RETURN(std::string path, s.container_driver->mount(it->second.layer_id));
  ++s.mounts[id];
  if (Status st = s.save_mounts(); !st.ok()) log::warn("storage: saving mount counts", {{"error", st.message()}});
  return path;
}

Status Store::unmount(const std::string& id, bool force) {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  auto it = s.containers.find(id);
  if (it == s.containers.end()) return error(Code::kNotFound, "container {}: no layer in the store", id);
  int& n = s.mounts[id];
  n = force ? 0 : std::max(0, n - 1);
  if (n == 0) {
    s.mounts.erase(id);
    CRIO_RETURN_IF_ERROR(s.container_driver->unmount(it->second.layer_id, force));
  }
  if (Status st = s.save_mounts(); !st.ok()) log::warn("storage: saving mount counts", {{"error", st.message()}});
  return ok_status();
}

Status Store::delete_container(const std::string& id) {
  auto& s = *impl_;
  std::string trash;
  {
    std::lock_guard lock(s.mu);
    auto it = s.containers.find(id);
    if (it == s.containers.end()) return ok_status();
    ContainerLayer c = it->second;
    CRIO_RETURN_IF_ERROR(
        s.container_driver->unmount(c.layer_id, true).wrap(fmt::format("deleting container {}", id)));
    s.mounts.erase(id);
    (void)s.save_mounts();
    s.containers.erase(it);
    Status saved = s.save_containers();
    if (saved.code() == Code::kResourceExhausted) {
      // A full disk (often this very container's doing) has no room for the new
      // record, nor for a new staging directory: the layer goes first, renamed into
      // the staging directory (an entry in an existing directory) and removed, and
      // the record is written into the space it gave back. A crash in between leaves
      // a record without a layer, which the store's check reports.
      const std::string gone = s.container_staging_dir + "/" + core::random_hex(32);
      if (Status st = s.container_driver->remove(c.layer_id, gone); !st.ok()) {
        s.containers[id] = c;
        return st.wrap(fmt::format("deleting container {}", id));
      }
      if (Status st = detail::remove_tree(gone); !st.ok()) {
        log::warn("storage: removing a deleted container's layer", {{"id", id}, {"error", st.message()}});
      }
      saved = s.save_containers();
      if (!saved.ok()) {
        s.containers[id] = c;
        return saved.wrap(fmt::format("deleting container {}", id));
      }
      return ok_status();
    }
    if (!saved.ok()) {
      s.containers[id] = c;
      return saved.wrap(fmt::format("deleting container {}", id));
    }
    CRIO_ASSIGN_OR_RETURN(trash, s.new_staging(true));
    CRIO_RETURN_IF_ERROR(s.container_driver->remove(c.layer_id, trash + "/layer"));
  }
  return detail::remove_tree(trash).wrap(fmt::format("deleting container {}", id));
}

Result<StoreUsage> Store::usage() const {
  std::vector<std::string> layer_dirs, container_dirs;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [chain, _] : impl_->layers) layer_dirs.push_back(impl_->driver->data_dir(layer_dir_id(chain)));
    for (const auto& [_, c] : impl_->containers) {
      container_dirs.push_back(impl_->container_driver->data_dir(c.layer_id));
    }
  }
  StoreUsage u;
  for (const auto& d : layer_dirs) {
    CRIO_ASSIGN_OR_RETURN(Usage x, detail::tree_usage(d));
    u.layers.bytes += x.bytes;
    u.layers.inodes += x.inodes;
  }
  for (const auto& d : container_dirs) {
    CRIO_ASSIGN_OR_RETURN(Usage x, detail::tree_usage(d));
    u.containers.bytes += x.bytes;
    u.containers.inodes += x.inodes;
  }
  return u;
}

Result<Usage> Store::container_usage(const std::string& id) const {
  std::string dir;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->containers.find(id);
    if (it == impl_->containers.end()) return error(Code::kNotFound, "container {}: no layer in the store", id);
    dir = impl_->container_driver->data_dir(it->second.layer_id);
  }
  return detail::tree_usage(dir);
}

// ---------------------------------------------------------------------------------
// Check, repair, wipe

CheckReport Store::Impl::inspect(const CheckOptions& options) const {
  CheckReport r;
  // Orphans: what a crash or a hand left that no record refers to.
  for (const auto& dir : {staging_dir, container_staging_dir}) {
    for (const auto& n : list_names(dir)) r.orphans.push_back({dir + "/" + n, "a leftover staging directory"});
  }
  for (const auto& dir : {layers_dir, images_dir, containers_dir}) {
    for (const auto& n : list_names(dir)) {
      if (n.find(".tmp-") != std::string::npos) r.orphans.push_back({dir + "/" + n, "an interrupted write"});
    }
  }
  std::set<std::string> layer_ids, container_layer_ids;
  for (const auto& [chain, _] : layers) layer_ids.insert(layer_dir_id(chain));
  for (const auto& [_, c] : containers) container_layer_ids.insert(c.layer_id);
  auto unrecorded = [&](const Driver& d, const std::set<std::string>& ids, const std::set<std::string>& also) {
    for (const auto& n : list_names(d.home())) {
      if (d.reserved_entry(n) || ids.count(n) || also.count(n)) continue;
      r.orphans.push_back({d.home() + "/" + n, "a layer directory without a record"});
    }
  };
  if (container_driver == driver.get()) {
    unrecorded(*driver, layer_ids, container_layer_ids);
  } else {
    unrecorded(*driver, layer_ids, {});
    unrecorded(*container_driver, container_layer_ids, {});
  }
  for (const auto& n : list_names(images_dir)) {
    if (n.find('.') != std::string::npos) continue;  // images.json and its temp files
    if (images.count(n) == 0) r.orphans.push_back({images_dir + "/" + n, "image data without a record"});
  }
  for (const auto& n : list_names(layers_dir)) {
    const std::string suffix = ".contents";
    if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    if (layer_ids.count(n.substr(0, n.size() - suffix.size())) == 0) {
      r.orphans.push_back({layers_dir + "/" + n, "a file list of a layer without a record"});
    }
  }

  // Layers: each on its own, then the damage of a parent carries to its children.
  std::map<std::string, std::string> damaged;  // chain ID → reason
  for (const auto& [chain, l] : layers) {
    const std::string id = layer_dir_id(chain);
    const std::string data = driver->data_dir(id);
    struct stat st {};
    if (::stat(data.c_str(), &st) != 0) {
      damaged[chain] = fmt::format("its directory {} is missing", data);
      continue;
    }
    if (!l.parent.empty() && layers.count(l.parent) == 0) {
      damaged[chain] = fmt::format("its parent layer {} is missing", l.parent);
      continue;
    }
    if (!options.contents) continue;
    auto text = fs::read_file(contents_file(id));
    if (!text.ok()) continue;  // committed before file lists were kept: nothing to compare with
    json listed = json::parse(*text, nullptr, false);
    std::string differ = listed.is_array() ? contents_differ(data, listed, driver->name() == "vfs")
                                           : std::string("its file list is malformed");
    if (!differ.empty()) damaged[chain] = "its content changed: " + differ;
  }
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [chain, l] : layers) {
      if (damaged.count(chain) || l.parent.empty() || damaged.count(l.parent) == 0) continue;
      damaged[chain] = fmt::format("its parent layer {} is damaged", l.parent);
      grew = true;
    }
  }
  for (const auto& [chain, reason] : damaged) r.layers.push_back({chain, reason});

  // Images: a layer of theirs damaged or missing, or their data gone.
  std::set<std::string> used;  // layers some image stands on
  std::set<std::string> damaged_images;
  for (const auto& [id, img] : images) {
    std::string reason;
    std::string cur = img.top_layer;
    while (!cur.empty() && reason.empty()) {
      used.insert(cur);
      auto it = layers.find(cur);
      if (it == layers.end()) {
        reason = fmt::format("its layer {} is missing", cur);
      } else if (damaged.count(cur)) {
        reason = fmt::format("its layer {} is damaged", cur);
      } else {
        cur = it->second.parent;
      }
    }
    if (reason.empty()) {
      for (const char* f : {"manifest", "config"}) {
        if (!fs::exists(image_dir(id) + "/" + f)) {
          reason = fmt::format("its {} is missing", f);
          break;
        }
      }
    }
    if (!reason.empty()) {
      damaged_images.insert(id);
      r.images.push_back({id, reason});
    }
  }

  // Containers: their image and their own layer directory.
  for (const auto& [id, c] : containers) {
    std::string reason;
    if (images.count(c.image_id) == 0) {
      reason = fmt::format("its image {} is missing", c.image_id);
    } else if (damaged_images.count(c.image_id)) {
      reason = fmt::format("its image {} is damaged", c.image_id);
    } else if (!fs::exists(container_driver->data_dir(c.layer_id))) {
      reason = fmt::format("its layer directory {} is missing", container_driver->data_dir(c.layer_id));
    }
    if (!reason.empty()) r.containers.push_back({id, reason});
  }

  // Layers nothing stands on (a pull that died between its layers and its image).
  if (options.unreferenced_age_seconds) {
    const int64_t now = now_unix();
    for (const auto& [chain, l] : layers) {
      if (used.count(chain) || damaged.count(chain)) continue;
      if (now - l.created > *options.unreferenced_age_seconds) {
        r.layers.push_back({chain, "no image uses it"});
      }
    }
  }
  return r;
}

Result<CheckReport> Store::check(const StoreOptions& options, const CheckOptions& check_options) {
  CRIO_ASSIGN_OR_RETURN(auto impl, Impl::open(options));
  CRIO_RETURN_IF_ERROR(impl->read_records().wrap(fmt::format("checking storage {}", options.root)));
  return impl->inspect(check_options);
}

namespace {

bool under(const std::string& path, const std::string& dir) {
  return !dir.empty() && path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// Lazily unmounts every mount at or below `dir`, deepest first.
void unmount_below(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> targets;
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mountpoint ...
    size_t pos = 0;
    for (int field = 0; field < 4 && pos != std::string::npos; ++field) pos = line.find(' ', pos + 1);
    if (pos == std::string::npos) continue;
    size_t end = line.find(' ', pos + 1);
    std::string mp = line.substr(pos + 1, end - pos - 1);
    // Octal escapes (\040 for a space) as the kernel writes them.
    std::string decoded;
    for (size_t i = 0; i < mp.size(); ++i) {
      if (mp[i] == '\\' && i + 3 < mp.size()) {
        decoded += static_cast<char>(std::stoi(mp.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        decoded += mp[i];
      }
    }
    if (decoded == dir || under(decoded, dir)) targets.push_back(decoded);
  }
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& t : targets) ::umount2(t.c_str(), MNT_DETACH);
}

}  // namespace

Result<std::vector<StoreDamage>> Store::repair(const StoreOptions& options, const CheckReport& report,
                                               const RepairOptions& repair_options) {
  CRIO_ASSIGN_OR_RETURN(auto impl, Impl::open(options));
  Impl& s = *impl;
  CRIO_RETURN_IF_ERROR(s.read_records().wrap(fmt::format("repairing storage {}", options.root)));
  std::vector<StoreDamage> failed;
  const std::string image_root = options.image_store.empty() ? options.root : options.image_store;
  auto remove_path = [&](const std::string& path) {
    if (!under(path, options.root) && !under(path, image_root)) {
      failed.push_back({path, "not inside the store; left alone"});
      return;
    }
    unmount_below(path);
    if (Status st = detail::remove_tree(path); !st.ok()) failed.push_back({path, st.message()});
  };
  for (const auto& o : report.orphans) remove_path(o.id);

  // The layers to go: the damaged ones, and those only removed images stood on.
  std::set<std::string> drop_layers;
  for (const auto& l : report.layers) drop_layers.insert(normalize_digest(l.id));
  std::set<std::string> drop_images;
  for (const auto& i : report.images) drop_images.insert(i.id);
  for (const auto& [id, img] : s.images) {
    for (const auto& l : s.chain_of(img.top_layer)) {
      if (drop_layers.count(l)) drop_images.insert(id);
    }
  }
  std::set<std::string> drop_containers;
  if (repair_options.remove_containers) {
    for (const auto& c : report.containers) drop_containers.insert(c.id);
    for (const auto& [id, c] : s.containers) {
      if (drop_images.count(c.image_id)) drop_containers.insert(id);
    }
  }
  std::set<std::string> keep;
  for (const auto& [id, img] : s.images) {
    if (drop_images.count(id)) continue;
    for (const auto& l : s.chain_of(img.top_layer)) keep.insert(l);
  }
  for (const auto& id : drop_images) {
    auto it = s.images.find(id);
    if (it == s.images.end()) continue;
    for (const auto& l : s.chain_of(it->second.top_layer)) {
      if (!keep.count(l)) drop_layers.insert(l);
    }
  }
  // A child of a layer that goes cannot stay.
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [chain, l] : s.layers) {
      if (!drop_layers.count(chain) && !l.parent.empty() && drop_layers.count(l.parent)) {
        drop_layers.insert(chain);
        grew = true;
      }
    }
  }

  for (const auto& id : drop_containers) {
    auto it = s.containers.find(id);
    if (it == s.containers.end()) continue;
    const std::string layer = it->second.layer_id;
    s.containers.erase(it);
    (void)s.container_driver->unmount(layer, true);
    unmount_below(s.container_driver->home() + "/" + layer);
    if (Status st = detail::remove_tree(s.container_driver->home() + "/" + layer); !st.ok()) {
      failed.push_back({id, st.message()});
    }
    log::info("storage: removed a damaged container", {{"container", id}});
  }
  for (const auto& id : drop_images) {
    if (s.images.erase(id) == 0) continue;
    if (Status st = detail::remove_tree(s.image_dir(id)); !st.ok()) failed.push_back({id, st.message()});
    log::info("storage: removed a damaged image", {{"image", id}});
  }
  for (const auto& chain : drop_layers) {
    s.layers.erase(chain);
    const std::string id = layer_dir_id(chain);
    unmount_below(s.driver->home() + "/" + id);
    if (Status st = detail::remove_tree(s.driver->home() + "/" + id); !st.ok()) failed.push_back({chain, st.message()});
    (void)fs::remove_file(s.contents_file(id));
    log::info("storage: removed a damaged layer", {{"layer", chain}});
  }
  for (Status st : {s.save_containers(), s.save_images(), s.save_layers()}) {
    if (!st.ok()) return st.wrap(fmt::format("repairing storage {}", options.root));
  }
  return failed;
}

Status Store::wipe(const StoreOptions& options) {
  std::vector<std::string> roots = {options.root};
  if (!options.image_store.empty()) roots.push_back(options.image_store);
  for (const auto& root : roots) {
    if (root.empty() || root[0] != '/' || root == "/") {
      return error(Code::kInvalidArgument, "storage root {:?}: refusing to wipe it", root);
    }
    unmount_below(root);
    for (const auto& n : list_names(root)) {
      CRIO_RETURN_IF_ERROR(detail::remove_tree(root + "/" + n).wrap(fmt::format("wiping storage {}", root)));
    }
  }
  return ok_status();
}

}  // namespace crio::storage
