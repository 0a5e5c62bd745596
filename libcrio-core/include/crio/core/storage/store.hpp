#pragma once
// The layer, image and container store, laid out like containers/storage so that an
// operator finds the same things in the same places (root /var/lib/containers/storage,
// runroot /run/containers/storage, driver overlay).
//
// Layers are identified by their chain ID (OCI image spec):
//   chain(L0) = diff_id(L0);  chain(Ln) = sha256(chain(Ln-1) + " " + diff_id(Ln)).
// A layer is unpacked into a private staging directory (many in parallel), then
// committed into the store in one rename. A crash at any moment leaves a consistent
// store: open() removes staging directories and layer directories without a record.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crio::storage {

struct StoreOptions {
  std::string root;                // /var/lib/containers/storage
  std::string runroot;             // /run/containers/storage
  std::string driver = "overlay";  // "overlay" or "vfs"
  // storage.conf's driver options: "overlay.mountopt=nodev,metacopy=on",
  // "overlay.mount_program=/usr/bin/fuse-overlayfs". Unknown ones are logged and ignored.
  std::vector<std::string> options;
  // containers/storage's imagestore: "" or an absolute path where images, their layers
  // and their records live instead of under root; containers' layers stay under root.
  // Overlay only. A store opened without it does not see the images kept there.
  std::string image_store;
};

struct Layer {
  std::string chain_id;           // "sha256:<hex>"; the layer's identity in the store
  std::string parent;             // parent's chain ID, "" for a base layer
  std::string diff_id;            // digest of the uncompressed tar
  std::string compressed_digest;  // digest of the blob it was pulled as ("" if unknown)
  int64_t compressed_size = 0;
  int64_t size = 0;     // length of the uncompressed tar stream
  int64_t created = 0;  // unix seconds
};

// An image as stored. `id` is the hex of the config digest.
struct Image {
  std::string id;
  std::string top_layer;             // chain ID of the topmost layer, "" for no layers
  std::vector<std::string> names;    // repo tags: "docker.io/library/busybox:latest"
  std::vector<std::string> digests;  // repo digests: "docker.io/library/busybox@sha256:..."
  std::string manifest;              // manifest bytes as pulled
  std::string config;                // config blob bytes
  int64_t size = 0;
  int64_t created = 0;  // unix seconds when first stored (ignored on input)
};
using ImageRecord = Image;

struct ContainerLayer {
  std::string id;        // the container's ID
  std::string image_id;  // "" never: every container has an image
  std::string layer_id;  // the writable layer's directory name under the driver home
  int64_t created = 0;
};

struct Usage {
  int64_t bytes = 0;  // allocated bytes (st_blocks * 512), hard links counted once
  int64_t inodes = 0;
};

struct StoreUsage {
  Usage layers;      // image layers
  Usage containers;  // writable container layers
};

// chain(parent, diff_id): diff_id when parent is "", else sha256(parent + " " + diff_id).
CRIO_CORE_EXPORT std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id);

class Store;

// One problem `Store::check` found.
struct StoreDamage {
  std::string id;      // layer chain ID, image ID, container ID; for an orphan, its path
  std::string reason;  // what is wrong, for the operator
};

// What is damaged in a store, as containers/storage's check reports it: a layer whose
// directory is gone or whose files differ from what was committed (a truncated or
// missing file), an image with a damaged or missing layer or without its manifest or
// config, a container layer whose image is damaged or whose directory is gone, and
// orphans nothing refers to (a leftover staging directory, a layer directory or an
// image's data without a record, a layer no image or container uses that is older than
// the allowed age).
struct CheckReport {
  std::vector<StoreDamage> layers;
  std::vector<StoreDamage> images;
  std::vector<StoreDamage> containers;
  std::vector<StoreDamage> orphans;
  bool clean() const { return layers.empty() && images.empty() && containers.empty() && orphans.empty(); }
};

struct CheckOptions {
  // Compare each layer's files with the list taken when it was committed (sizes and
  // types, not bytes); false is the quick check: directories and records only.
  bool contents = true;
  // A layer nothing uses counts as an orphan once older than this; unset: never.
  std::optional<int64_t> unreferenced_age_seconds;
};

struct RepairOptions {
  // Also remove damaged containers' layers; without it they are left (and reported).
  bool remove_containers = false;
};

// Unpacks one layer into its own staging directory. Writers for different layers run
// in parallel threads; one writer is used by one thread. A writer must not outlive
// the Store that made it.
class CRIO_CORE_EXPORT LayerWriter {
 public:
  ~LayerWriter();  // not committed → the staging directory is removed
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // Reads an UNCOMPRESSED tar stream through `read` (bytes read, 0 at EOF, or an error)
  // to its end and unpacks it. An unsafe entry (absolute path, "..", a path through a
  // symlink, a hard link to outside the layer) is InvalidArgument naming the entry;
  // any failure empties the staging directory and makes the writer unusable.
  Status apply_tar(const std::function<Result<size_t>(char* buf, size_t len)>& read);

  // Moves the staged layer into the store under chain(parent, diff_id). The parent
  // must be in the store by now. If that layer appeared meanwhile (another pull),
  // ours is discarded and the existing one returned.
  Result<Layer> commit(const std::string& diff_id, const std::string& compressed_digest, int64_t compressed_size);

 private:
  friend class Store;
  struct Impl;
  explicit LayerWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Thread-safe. One process owns a store root at a time (an flock on root/storage.lock).
class CRIO_CORE_EXPORT Store {
 public:
  // Creates the directories, locks the root, loads the records and removes what a
  // crash left behind.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const StoreOptions& options() const;

  // parent_chain_id: "" for a base layer. The parent only has to be committed by the
  // time the writer commits, so a pull can unpack all its layers at once.
  Result<std::unique_ptr<LayerWriter>> begin_layer(std::string parent_chain_id);
  std::optional<Layer> layer(const std::string& chain_id) const;
  std::vector<Layer> layers() const;

  // Stores an image whose layers are committed. Creating an existing id merges its
  // names and digests (and replaces manifest/config when given); a name another image
  // held moves to this one.
  Result<Image> create_image(ImageRecord record);
  // By full id ("<hex>" or "sha256:<hex>"), name, repo digest, or unique id prefix.
  std::optional<Image> image(const std::string& id_or_name_or_digest) const;
  std::vector<Image> images() const;
  // Removes one repo tag (or repo digest) from the image; NotFound if it has no such name.
  Status remove_image_name(const std::string& image_id, const std::string& name);
  // Deletes the image and the layers no other image uses. FailedPrecondition while a
  // container uses the image; NotFound if there is no such image.
  Status delete_image(const std::string& id);
  // Deletes the layers no image uses: what a pull or an image deletion that a crash
  // interrupted leaves recorded. Only for a store no pull is writing to (at start-up).
  // Returns how many went.
  Result<size_t> remove_unreferenced_layers();

  // A writable layer over the image's layers. AlreadyExists for a used id.
  Result<ContainerLayer> create_container(const std::string& id, const std::string& image_id);
  std::optional<ContainerLayer> container(const std::string& id) const;
  std::vector<ContainerLayer> containers() const;
  // Mounts (reference counted) and returns the root filesystem path.
  Result<std::string> mount(const std::string& container_id);
  // Drops one reference (all with force) and unmounts at zero.
  Status unmount(const std::string& container_id, bool force = false);
  // Unmounts and removes the container's layer; a missing container is OK.
  Status delete_container(const std::string& id);

  Result<StoreUsage> usage() const;

  // Inspects the store at `options` without changing it. It takes the store's lock, so
  // it fails (FailedPrecondition) while a daemon has the store open.
  static Result<CheckReport> check(const StoreOptions& options, const CheckOptions& check_options = {});
  // Removes what `report` names: orphans, damaged layers, every image using a damaged
  // layer (with the layers only they used), and with remove_containers the damaged
  // containers. An intact image is never removed. Returns what could not be removed
  // (empty when all went); a container left without remove_containers is not counted.
  static Result<std::vector<StoreDamage>> repair(const StoreOptions& options, const CheckReport& report,
                                                 const RepairOptions& repair_options = {});
  // Removes everything under the store's root and imagestore, unmounting whatever is
  // mounted below them first: the last resort after damage repair cannot undo.
  static Status wipe(const StoreOptions& options);
  Result<Usage> container_usage(const std::string& id) const;

  struct Impl;

 private:
  friend class LayerWriter;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crio::storage
