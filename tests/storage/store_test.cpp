// One suite, run against every storage driver (as containerd's snapshotter
// testsuite is): layers from tars built here, images, container root file systems,
// deletion, reopening, crash leftovers and hostile tars. Needs real root.

#include <crio/core/digest.hpp>
#include <crio/core/storage/store.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "loop_disk.hpp"
#include "temp_dir.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace stdfs = std::filesystem;
using crio::Code;
using crio::core::sha256_of;
using crio::storage::Image;
using crio::storage::Layer;
using crio::storage::Store;
using crio::storage::StoreOptions;
using crio::test::TempDir;

namespace {

struct Overlay {
  static constexpr const char* kName = "overlay";
  static constexpr const char* kHome = "overlay";
};
struct Vfs {
  static constexpr const char* kName = "vfs";
  static constexpr const char* kHome = "vfs/dir";
};

struct Entry {
  std::string path;
  char type = 'f';   // f file, d dir, l symlink, h hardlink, c char device
  std::string data;  // file content, or link target
  mode_t mode = 0644;
  int64_t uid = 0, gid = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
  int64_t mtime = 1700000000;
};

Entry entry(std::string p, char type, std::string data, mode_t mode) {
  Entry e;
  e.path = std::move(p);
  e.type = type;
  e.data = std::move(data);
  e.mode = mode;
  return e;
}
Entry file(std::string p, std::string data, mode_t mode = 0644) {
  return entry(std::move(p), 'f', std::move(data), mode);
}
Entry dir(std::string p, mode_t mode = 0755) { return entry(std::move(p), 'd', "", mode); }
Entry slink(std::string p, std::string target) { return entry(std::move(p), 'l', std::move(target), 0777); }
Entry hardlink(std::string p, std::string target) { return entry(std::move(p), 'h', std::move(target), 0644); }

// A POSIX (pax) tar of `entries`, written by libarchive.
std::string make_tar(const std::vector<Entry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* client, const void* buf, size_t len) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), len);
        return static_cast<la_ssize_t>(len);
      },
      nullptr);
  for (const auto& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, e.mtime, 0);
    archive_entry_set_perm(ae, e.mode);
    switch (e.type) {
      case 'f':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
        break;
      case 'd':
        archive_entry_set_filetype(ae, AE_IFDIR);
        break;
      case 'l':
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e.data.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e.data.c_str());
        archive_entry_set_size(ae, 0);
        break;
      case 'c':
        archive_entry_set_filetype(ae, AE_IFCHR);
        archive_entry_set_rdev(ae, makedev(1, 3));
        break;
    }
    for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    if (archive_write_header(a, ae) != ARCHIVE_OK) throw std::runtime_error("tar header for " + e.path);
    if (e.type == 'f' && !e.data.empty() &&
        archive_write_data(a, e.data.data(), e.data.size()) != static_cast<la_ssize_t>(e.data.size())) {
      throw std::runtime_error("tar data for " + e.path);
    }
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A reader over `data` handing out at most `chunk` bytes per call.
std::function<crio::Result<size_t>(char*, size_t)> reader(const std::string& data, size_t chunk = 7000) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, pos, chunk](char* buf, size_t len) -> crio::Result<size_t> {
    size_t n = std::min({len, chunk, data.size() - *pos});
    std::memcpy(buf, data.data() + *pos, n);
    *pos += n;
    return n;
  };
}

std::string slurp(const std::string& path) {
  if (!stdfs::exists(path)) return "<missing>";
  return crio::test::read_file(path);
}

size_t count_entries(const std::string& dir) {
  if (!stdfs::exists(dir)) return 0;
  return static_cast<size_t>(std::distance(stdfs::directory_iterator(dir), stdfs::directory_iterator{}));
}

bool exists_nofollow(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

bool mounted_below(const std::string& prefix) {
  std::string mounts = crio::test::read_file("/proc/self/mounts");
  return mounts.find(" " + prefix) != std::string::npos;
}

template <typename D>
struct Env {
  TempDir tmp{"crio-storage"};
  std::unique_ptr<Store> store;

  Env() { open(); }
  ~Env() {
    if (store) {
      for (const auto& c : store->containers()) (void)store->delete_container(c.id);
    }
  }
  StoreOptions options() const { return StoreOptions{tmp / "root", tmp / "run", D::kName, {}}; }
  void open() {
    auto s = Store::open(options());
    INFO(s.status().to_string());
    REQUIRE(s.ok());
    store = std::move(s).value();
  }
  std::string home() const { return tmp / "root" + "/" + D::kHome; }
  std::string staging() const { return tmp / "root" + "/" + D::kName + "-staging"; }

  Layer add_layer(const std::string& parent, const std::string& tar) {
    auto w = store->begin_layer(parent);
    INFO(w.status().to_string());
    REQUIRE(w.ok());
    auto applied = (*w)->apply_tar(reader(tar));
    INFO(applied.to_string());
    REQUIRE(applied.ok());
    auto l = (*w)->commit(sha256_of(tar), sha256_of("compressed " + tar), static_cast<int64_t>(tar.size() / 2));
    INFO(l.status().to_string());
    REQUIRE(l.ok());
    return *l;
  }

  Image add_image(const std::string& top, const std::string& config, std::vector<std::string> names = {}) {
    crio::storage::ImageRecord rec;
    rec.id = sha256_of(config).substr(7);
    rec.top_layer = top;
    rec.names = std::move(names);
    rec.config = config;
    rec.manifest = "{\"manifest\":\"" + config + "\"}";
    rec.size = 1234;
    auto img = store->create_image(rec);
    INFO(img.status().to_string());
    REQUIRE(img.ok());
    return *img;
  }

  std::string rootfs(const std::string& cid, const std::string& image) {
    auto c = store->create_container(cid, image);
    INFO(c.status().to_string());
    REQUIRE(c.ok());
    auto m = store->mount(cid);
    INFO(m.status().to_string());
    REQUIRE(m.ok());
    return *m;
  }
};

const std::string& base_tar() {
  static const std::string tar = make_tar({
      dir("./"),
      dir("etc"),
      file("etc/passwd", "root:x:0:0\n"),
      file("etc/hostname", "base\n"),
      dir("a"),
      file("a/x", "x"),
      file("a/y", "y"),
      file("gone.txt", "to be deleted"),
      dir("bin"),
      file("bin/tool", "#!/bin/sh\n", 04755),
  });
  return tar;
}

const std::string& child_tar() {
  static const std::string tar = make_tar({
      file(".wh.gone.txt", ""),
      dir("a"),
      file("a/.wh..wh..opq", ""),
      file("a/new", "new"),
      file("etc/hostname", "child\n"),
      slink("etc/link", "/etc/passwd"),
      file("etc/group", "root:x:0:\n"),
      hardlink("etc/group2", "etc/group"),
  });
  return tar;
}

}  // namespace

TEST_CASE("digest: sha256 and parse_digest", "[storage][digest]") {
  CHECK(sha256_of("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  crio::core::Sha256 h;
  h.update("a", 1);
  h.update(std::string_view("bc"));
  CHECK(h.finish() == sha256_of("abc"));
  auto d = crio::core::parse_digest(sha256_of("abc"));
  REQUIRE(d.ok());
  CHECK(d->algorithm == "sha256");
  CHECK(d->hex.size() == 64);
  CHECK(d->to_string() == sha256_of("abc"));
  auto sha512 = crio::core::Digester::create("sha512");
  REQUIRE(sha512.ok());
  sha512->update(std::string_view("abc"));
  std::string s512 = sha512->finish();
  CHECK(s512.rfind("sha512:ddaf35a193617aba", 0) == 0);
  CHECK(crio::core::parse_digest(s512).ok());
  for (const char* bad : {"", "sha256", "sha256:", "md5:d41d8cd98f00b204e9800998ecf8427e",
                          "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                          "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
                          "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}) {
    auto r = crio::core::parse_digest(bad);
    INFO(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  CHECK(crio::core::Digester::create("md5").status().code() == Code::kInvalidArgument);
}

TEMPLATE_TEST_CASE("store: layers are stored under their chain IDs", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  CHECK(base.chain_id == sha256_of(base_tar()));
  CHECK(base.diff_id == sha256_of(base_tar()));
  CHECK(base.parent.empty());
  CHECK(base.size == static_cast<int64_t>(base_tar().size()));
  CHECK(base.compressed_digest == sha256_of("compressed " + base_tar()));

  Layer child = env.add_layer(base.chain_id, child_tar());
  CHECK(child.chain_id == sha256_of(base.chain_id + " " + sha256_of(child_tar())));
  CHECK(child.chain_id == crio::storage::chain_id(base.chain_id, child.diff_id));
  CHECK(child.parent == base.chain_id);

  auto got = env.store->layer(child.chain_id);
  REQUIRE(got.has_value());
  CHECK(got->diff_id == sha256_of(child_tar()));
  CHECK(env.store->layer(child.chain_id.substr(7)).has_value());  // bare hex works too
  CHECK_FALSE(env.store->layer(sha256_of("nothing")).has_value());
  CHECK(env.store->layers().size() == 2);
  CHECK(count_entries(env.staging()) == 0);

  // A parent that never arrives: the commit says so and leaves nothing.
  auto w = env.store->begin_layer(sha256_of("no such parent"));
  REQUIRE(w.ok());
  REQUIRE((*w)->apply_tar(reader(child_tar())).ok());
  auto orphan = (*w)->commit(sha256_of(child_tar()), "", 0);
  CHECK(orphan.status().code() == Code::kFailedPrecondition);
  w->reset();
  CHECK(count_entries(env.staging()) == 0);
  CHECK(env.store->begin_layer("not-a-digest").status().code() == Code::kInvalidArgument);

  // A layer with no entries (only the end-of-archive blocks) is a layer too.
  Layer empty = env.add_layer(child.chain_id, make_tar({}));
  CHECK(empty.parent == child.chain_id);
  CHECK(empty.size == static_cast<int64_t>(make_tar({}).size()));
}

TEMPLATE_TEST_CASE("store: container rootfs shows layers with whiteouts and opaque dirs", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Entry owned = file("meta/owned", "data", 04750);
  owned.uid = 1234;
  owned.gid = 5678;
  owned.xattrs = {{"user.crio", "yes"}};
  owned.mtime = 1600000000;
  std::string meta_tar = make_tar({
      dir("meta"),
      owned,
      entry("meta/null", 'c', "", 0666),
  });
  Layer base = env.add_layer("", base_tar());
  Layer child = env.add_layer(base.chain_id, child_tar());
  Layer meta = env.add_layer(child.chain_id, meta_tar);
  Image img = env.add_image(meta.chain_id, "config-1", {"docker.io/library/test:latest"});
  std::string root = env.rootfs("c1", img.id);

  CHECK(slurp(root + "/etc/passwd") == "root:x:0:0\n");
  CHECK(slurp(root + "/etc/hostname") == "child\n");
  CHECK_FALSE(exists_nofollow(root + "/gone.txt"));  // whiteout
  CHECK_FALSE(exists_nofollow(root + "/a/x"));       // opaque directory
  CHECK_FALSE(exists_nofollow(root + "/a/y"));
  CHECK(slurp(root + "/a/new") == "new");
  CHECK(stdfs::read_symlink(root + "/etc/link") == "/etc/passwd");

  struct stat st {
  }, st2{};
  REQUIRE(::stat((root + "/etc/group").c_str(), &st) == 0);
  REQUIRE(::stat((root + "/etc/group2").c_str(), &st2) == 0);
  CHECK(slurp(root + "/etc/group2") == "root:x:0:\n");
  if (std::string(TestType::kName) == "vfs") CHECK(st.st_ino == st2.st_ino);  // overlay shows lower inodes per path

  REQUIRE(::stat((root + "/bin/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);
  REQUIRE(::stat((root + "/meta/owned").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04750);
  CHECK(st.st_uid == 1234);
  CHECK(st.st_gid == 5678);
  CHECK(st.st_mtim.tv_sec == 1600000000);
  char value[16] = {};
  CHECK(::getxattr((root + "/meta/owned").c_str(), "user.crio", value, sizeof value) == 3);
  CHECK(std::string(value) == "yes");
  REQUIRE(::stat((root + "/meta/null").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(1, 3));
  REQUIRE(::stat((root + "/bin").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1700000000);  // directory times survive their children
}

TEMPLATE_TEST_CASE("store: containers write to their own layer only", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Image img = env.add_image(base.chain_id, "config-1");
  std::string r1 = env.rootfs("c1", img.id);
  std::string r2 = env.rootfs("c2", "sha256:" + img.id);
  CHECK(r1 != r2);

  crio::test::write_file(r1 + "/etc/hostname", "changed\n");
  crio::test::write_file(r1 + "/newfile", std::string(100000, 'z'));
  stdfs::remove(r1 + "/etc/passwd");

  CHECK(slurp(r1 + "/etc/hostname") == "changed\n");
  CHECK(slurp(r2 + "/etc/hostname") == "base\n");
  CHECK_FALSE(exists_nofollow(r2 + "/newfile"));
  CHECK(slurp(r2 + "/etc/passwd") == "root:x:0:0\n");

  // The image is untouched: a third container sees the original.
  std::string r3 = env.rootfs("c3", img.id);
  CHECK(slurp(r3 + "/etc/hostname") == "base\n");
  CHECK(slurp(r3 + "/etc/passwd") == "root:x:0:0\n");

  auto u1 = env.store->container_usage("c1");
  auto u2 = env.store->container_usage("c2");
  REQUIRE(u1.ok());
  REQUIRE(u2.ok());
  CHECK(u1->bytes >= 100000);
  CHECK(u1->bytes > u2->bytes);
  CHECK(env.store->container_usage("nope").status().code() == Code::kNotFound);

  // Mounts are reference counted.
  auto again = env.store->mount("c1");
  REQUIRE(again.ok());
  CHECK(*again == r1);
  REQUIRE(env.store->unmount("c1").ok());
  CHECK(slurp(r1 + "/etc/hostname") == "changed\n");  // still mounted once
  REQUIRE(env.store->unmount("c1").ok());
  if (std::string(TestType::kName) == "overlay") CHECK_FALSE(exists_nofollow(r1 + "/etc"));
  auto remount = env.store->mount("c1");
  REQUIRE(remount.ok());
  CHECK(slurp(*remount + "/etc/hostname") == "changed\n");

  CHECK(env.store->create_container("c1", img.id).status().code() == Code::kAlreadyExists);
  CHECK(env.store->create_container("c9", "no-such-image").status().code() == Code::kNotFound);
  CHECK(env.store->create_container("../x", img.id).status().code() == Code::kInvalidArgument);
}

TEMPLATE_TEST_CASE("store: delete container unmounts and removes it", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Image img = env.add_image(base.chain_id, "config-1");
  std::string root = env.rootfs("c1", img.id);
  REQUIRE(env.store->mount("c1").ok());  // two references: delete ignores them
  auto c = env.store->container("c1");
  REQUIRE(c.has_value());
  CHECK(c->image_id == img.id);
  REQUIRE(env.store->delete_container("c1").ok());
  CHECK_FALSE(env.store->container("c1").has_value());
  CHECK_FALSE(exists_nofollow(root));
  CHECK_FALSE(mounted_below(env.tmp.path()));
  CHECK(count_entries(env.home()) == (std::string(TestType::kName) == "overlay" ? 2u : 1u));  // base (+ l/)
  CHECK(env.store->delete_container("c1").ok());                                              // idempotent
  CHECK(env.store->mount("c1").status().code() == Code::kNotFound);
  CHECK(slurp(env.store->layer(base.chain_id)
                  ? env.home() + "/" + base.chain_id.substr(7) +
                        (std::string(TestType::kName) == "overlay" ? "/diff" : "") + "/etc/passwd"
                  : "") == "root:x:0:0\n");
}

TEMPLATE_TEST_CASE("store: delete image keeps shared layers and refuses while used", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Layer child = env.add_layer(base.chain_id, child_tar());
  std::string other_tar = make_tar({file("other", "o")});
  Layer other = env.add_layer(base.chain_id, other_tar);
  Image i1 = env.add_image(child.chain_id, "config-1", {"example.com/one:1"});
  Image i2 = env.add_image(other.chain_id, "config-2", {"example.com/two:1"});

  env.rootfs("c1", i1.id);
  auto refused = env.store->delete_image(i1.id);
  CHECK(refused.code() == Code::kFailedPrecondition);
  CHECK(refused.message().find("c1") != std::string::npos);
  CHECK(env.store->image(i1.id).has_value());
  REQUIRE(env.store->delete_container("c1").ok());

  REQUIRE(env.store->delete_image(i1.id).ok());
  CHECK_FALSE(env.store->image(i1.id).has_value());
  CHECK_FALSE(env.store->image("example.com/one:1").has_value());
  CHECK_FALSE(env.store->layer(child.chain_id).has_value());
  CHECK(env.store->layer(base.chain_id).has_value());  // shared with i2
  CHECK(env.store->layer(other.chain_id).has_value());
  CHECK_FALSE(exists_nofollow(env.home() + "/" + child.chain_id.substr(7)));
  CHECK(env.store->delete_image(i1.id).code() == Code::kNotFound);

  std::string root = env.rootfs("c2", i2.id);
  CHECK(slurp(root + "/other") == "o");
  CHECK(slurp(root + "/gone.txt") == "to be deleted");
  REQUIRE(env.store->delete_container("c2").ok());
  REQUIRE(env.store->delete_image(i2.id).ok());
  CHECK(env.store->layers().empty());
  CHECK(env.store->images().empty());
  CHECK(count_entries(env.home()) == (std::string(TestType::kName) == "overlay" ? 1u : 0u));
  if (std::string(TestType::kName) == "overlay") CHECK(count_entries(env.home() + "/l") == 0);
  CHECK(count_entries(env.staging()) == 0);
}

TEMPLATE_TEST_CASE("store: images are found by id, prefix, name and digest", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  crio::storage::ImageRecord rec;
  rec.id = sha256_of("config-1").substr(7);
  rec.top_layer = base.chain_id;
  rec.names = {"docker.io/library/busybox:latest"};
  rec.digests = {"docker.io/library/busybox@" + sha256_of("manifest-1")};
  rec.manifest = "manifest-1";
  rec.config = "config-1";
  rec.size = 42;
  auto img = env.store->create_image(rec);
  REQUIRE(img.ok());
  CHECK(img->created > 0);
  CHECK(img->manifest == "manifest-1");
  CHECK(img->config == "config-1");

  for (const std::string& ref : {rec.id, "sha256:" + rec.id, rec.id.substr(0, 12), rec.names[0], rec.digests[0]}) {
    INFO(ref);
    auto found = env.store->image(ref);
    REQUIRE(found.has_value());
    CHECK(found->id == rec.id);
    CHECK(found->size == 42);
  }
  CHECK_FALSE(env.store->image("docker.io/library/busybox:other").has_value());
  CHECK_FALSE(env.store->image("").has_value());

  // A second image takes the tag; the first keeps its digest.
  Image second = env.add_image(base.chain_id, "config-2", {"docker.io/library/busybox:latest", "x:1"});
  CHECK(env.store->image("docker.io/library/busybox:latest")->id == second.id);
  CHECK(env.store->image(rec.id)->names.empty());
  CHECK(env.store->image(rec.digests[0])->id == rec.id);

  // Storing the same id again merges names.
  crio::storage::ImageRecord again;
  again.id = second.id;
  again.names = {"x:2"};
  auto merged = env.store->create_image(again);
  REQUIRE(merged.ok());
  CHECK(merged->names == std::vector<std::string>{"docker.io/library/busybox:latest", "x:1", "x:2"});
  CHECK(merged->top_layer == base.chain_id);
  CHECK(merged->config == "config-2");

  REQUIRE(env.store->remove_image_name(second.id, "x:1").ok());
  CHECK_FALSE(env.store->image("x:1").has_value());
  CHECK(env.store->remove_image_name(second.id, "x:1").code() == Code::kNotFound);
  CHECK(env.store->images().size() == 2);

  crio::storage::ImageRecord bad;
  bad.id = "not-hex";
  CHECK(env.store->create_image(bad).status().code() == Code::kInvalidArgument);
  bad.id = sha256_of("config-3").substr(7);
  bad.top_layer = sha256_of("missing layer");
  CHECK(env.store->create_image(bad).status().code() == Code::kFailedPrecondition);
}

TEMPLATE_TEST_CASE("store: a reopened store has everything", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Layer child = env.add_layer(base.chain_id, child_tar());
  Image img = env.add_image(child.chain_id, "config-1", {"example.com/img:1"});
  std::string root = env.rootfs("c1", img.id);
  crio::test::write_file(root + "/written", "kept");

  // A second daemon on the same root is refused while the first has it.
  auto second = Store::open(env.options());
  CHECK(second.status().code() == Code::kFailedPrecondition);

  env.store.reset();
  env.open();
  CHECK(env.store->layer(child.chain_id).has_value());
  CHECK(env.store->layer(child.chain_id)->parent == base.chain_id);
  auto again = env.store->image("example.com/img:1");
  REQUIRE(again.has_value());
  CHECK(again->config == "config-1");
  CHECK(again->created == img.created);
  REQUIRE(env.store->container("c1").has_value());
  auto m = env.store->mount("c1");
  REQUIRE(m.ok());
  CHECK(*m == root);
  CHECK(slurp(*m + "/written") == "kept");
  CHECK(slurp(*m + "/etc/hostname") == "child\n");
  // The mount from before the reopen was counted: two unmounts release it.
  REQUIRE(env.store->unmount("c1").ok());
  REQUIRE(env.store->unmount("c1").ok());
  CHECK_FALSE(mounted_below(env.tmp.path()));
}

TEMPLATE_TEST_CASE("store: open removes what a crash left behind", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Image img = env.add_image(base.chain_id, "config-1");
  (void)img;
  env.store.reset();

  // A writer that was unpacking, and a layer renamed in whose record was never written.
  crio::test::write_file(env.staging() + "/0123abcd/layer/diff/etc/partial", "half");
  std::string half = env.home() + "/" + sha256_of("half layer").substr(7);
  crio::test::write_file(half + "/diff/file", "half");
  crio::test::write_file(half + "/link", "HALFLINK");
  crio::test::write_file(env.tmp / "root" + "/" + TestType::kName + "-images/" + sha256_of("x").substr(7) + "/config",
                         "x");
  crio::test::write_file(env.tmp / "root" + "/" + TestType::kName + "-layers/layers.json.tmp-123", "[");

  env.open();
  CHECK(count_entries(env.staging()) == 0);
  CHECK_FALSE(exists_nofollow(half));
  CHECK_FALSE(exists_nofollow(env.tmp / "root" + "/" + TestType::kName + "-images/" + sha256_of("x").substr(7)));
  CHECK_FALSE(exists_nofollow(env.tmp / "root" + "/" + TestType::kName + "-layers/layers.json.tmp-123"));
  CHECK(env.store->layers().size() == 1);
  CHECK(env.store->images().size() == 1);
  std::string root = env.rootfs("c1", img.id);
  CHECK(slurp(root + "/etc/passwd") == "root:x:0:0\n");
}

TEMPLATE_TEST_CASE("store: hostile tars are rejected and write nothing outside", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  std::string outside = env.tmp / "outside";
  stdfs::create_directories(outside);
  std::string etc = env.tmp / "fake-etc";
  crio::test::write_file(etc + "/passwd", "secret");

  struct Case {
    const char* what;
    std::string tar;
    const char* entry;
  };
  std::vector<Case> cases = {
      {"dot-dot", make_tar({file("ok", "1"), file("../escape", "x")}), "../escape"},
      {"deep dot-dot", make_tar({dir("a"), file("a/../../escape", "x")}), "a/../../escape"},
      {"absolute", make_tar({file("/abs", "x")}), "/abs"},
      {"through symlink", make_tar({slink("link", outside), file("link/file", "x")}), "link/file"},
      {"through relative symlink", make_tar({slink("up", "../../../../.."), file("up/escape", "x")}), "up/escape"},
      {"dir through symlink", make_tar({slink("link", outside), dir("link/sub")}), "link/sub"},
      {"hardlink dot-dot", make_tar({hardlink("pw", "../../etc/passwd")}), "pw"},
      {"hardlink absolute", make_tar({hardlink("pw", etc + "/passwd")}), "pw"},
      {"hardlink through symlink", make_tar({slink("e", etc), hardlink("pw", "e/passwd")}), "pw"},
      {"whiteout dot-dot", make_tar({file(".wh...", "")}), ".wh..."},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto w = env.store->begin_layer("");
    REQUIRE(w.ok());
    auto st = (*w)->apply_tar(reader(c.tar));
    INFO(st.to_string());
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find(c.entry) != std::string::npos);
    CHECK((*w)->commit(sha256_of(c.tar), "", 0).status().code() == Code::kFailedPrecondition);
    CHECK(count_entries(env.staging()) == 0);  // removed as soon as it failed
  }
  CHECK(count_entries(outside) == 0);
  CHECK(slurp(etc + "/passwd") == "secret");
  CHECK(stdfs::hard_link_count(etc + "/passwd") == 1);
  for (const auto& e : stdfs::recursive_directory_iterator(env.tmp.path())) {
    CHECK(e.path().filename() != "escape");
    CHECK(e.path().filename() != "abs");
  }
  CHECK(env.store->layers().empty());
  CHECK(count_entries(env.home()) == (std::string(TestType::kName) == "overlay" ? 1u : 0u));

  // Garbage is not a tar.
  std::string junk(3000, 'j');
  auto w = env.store->begin_layer("");
  REQUIRE(w.ok());
  CHECK((*w)->apply_tar(reader(junk)).code() == Code::kInvalidArgument);

  // A failing stream reports its own error.
  auto w2 = env.store->begin_layer("");
  REQUIRE(w2.ok());
  auto st = (*w2)->apply_tar(
      [](char*, size_t) -> crio::Result<size_t> { return crio::error(Code::kDataLoss, "digest mismatch"); });
  CHECK(st.code() == Code::kDataLoss);
  CHECK(st.message().find("digest mismatch") != std::string::npos);
}

TEMPLATE_TEST_CASE("store: layer writers run in parallel and share a layer", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  constexpr int kLayers = 4;
  std::vector<std::string> tars;
  for (int i = 0; i < kLayers; ++i) {
    std::vector<Entry> entries = {dir("data")};
    for (int f = 0; f < 50; ++f) {
      entries.push_back(file("data/f" + std::to_string(f), std::string(1000 + i, static_cast<char>('a' + i))));
    }
    tars.push_back(make_tar(entries));
  }
  std::vector<std::string> chains(kLayers);
  std::vector<std::string> errors(kLayers);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kLayers; ++i) {
      threads.emplace_back([&, i] {
        auto w = env.store->begin_layer("");
        if (!w.ok()) return void(errors[i] = w.status().to_string());
        if (auto st = (*w)->apply_tar(reader(tars[i], 4096)); !st.ok()) return void(errors[i] = st.to_string());
        auto l = (*w)->commit(sha256_of(tars[i]), "", 0);
        if (!l.ok()) return void(errors[i] = l.status().to_string());
        chains[i] = l->chain_id;
      });
    }
    for (auto& t : threads) t.join();
  }
  for (int i = 0; i < kLayers; ++i) {
    INFO(errors[i]);
    CHECK(errors[i].empty());
    CHECK(chains[i] == sha256_of(tars[i]));
  }

  // Two pulls of the same child layer: both get the one stored layer.
  std::string child = make_tar({file("same", "same")});
  std::vector<std::string> got(2), errs(2);
  std::atomic<int> ready{0};
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        auto w = env.store->begin_layer(chains[0]);
        if (!w.ok()) return void(errs[i] = w.status().to_string());
        if (auto st = (*w)->apply_tar(reader(child)); !st.ok()) return void(errs[i] = st.to_string());
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();
        auto l = (*w)->commit(sha256_of(child), "", 0);
        if (!l.ok()) return void(errs[i] = l.status().to_string());
        got[i] = l->chain_id;
      });
    }
    for (auto& t : threads) t.join();
  }
  CHECK(errs[0].empty());
  CHECK(errs[1].empty());
  CHECK(got[0] == got[1]);
  CHECK(got[0] == crio::storage::chain_id(chains[0], sha256_of(child)));
  CHECK(env.store->layers().size() == kLayers + 1);
  CHECK(count_entries(env.staging()) == 0);
  CHECK(count_entries(env.home()) == kLayers + 1 + (std::string(TestType::kName) == "overlay" ? 1u : 0u));
}

TEMPLATE_TEST_CASE("store: an image with many layers mounts", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  // 70 layers: their absolute lowerdir paths need more than a page, the short
  // relative ones do not.
  constexpr int kCount = 70;
  std::string top;
  for (int i = 0; i < kCount; ++i) {
    top = env.add_layer(top,
                        make_tar({file("f" + std::to_string(i), std::to_string(i)), file("last", std::to_string(i))}))
              .chain_id;
  }
  Image img = env.add_image(top, "config-many");
  std::string root = env.rootfs("c1", img.id);
  for (int i = 0; i < kCount; ++i) CHECK(slurp(root + "/f" + std::to_string(i)) == std::to_string(i));
  CHECK(slurp(root + "/last") == std::to_string(kCount - 1));
  REQUIRE(env.store->delete_container("c1").ok());
  CHECK_FALSE(mounted_below(env.tmp.path()));
}

TEMPLATE_TEST_CASE("store: usage counts layers and containers", "[storage]", Overlay, Vfs) {
  Env<TestType> env;
  auto empty = env.store->usage();
  REQUIRE(empty.ok());
  CHECK(empty->layers.inodes == 0);
  CHECK(empty->containers.inodes == 0);

  std::vector<Entry> entries = {dir("d")};
  for (int i = 0; i < 20; ++i) entries.push_back(file("d/f" + std::to_string(i), std::string(10000, 'u')));
  Layer base = env.add_layer("", make_tar(entries));
  auto after = env.store->usage();
  REQUIRE(after.ok());
  CHECK(after->layers.inodes >= 22);  // root, d, 20 files
  CHECK(after->layers.bytes >= 200000);
  CHECK(after->containers.inodes == 0);

  Image img = env.add_image(base.chain_id, "config-u");
  std::string root = env.rootfs("c1", img.id);
  auto before = env.store->container_usage("c1");
  REQUIRE(before.ok());
  crio::test::write_file(root + "/big", std::string(300000, 'b'));
  auto grown = env.store->container_usage("c1");
  REQUIRE(grown.ok());
  CHECK(grown->bytes >= before->bytes + 300000);
  CHECK(grown->inodes == before->inodes + 1);
  auto total = env.store->usage();
  REQUIRE(total.ok());
  CHECK(total->containers.bytes >= 300000);
  CHECK(total->layers.inodes == after->layers.inodes);
}

TEST_CASE("store: options are checked and overlay mount options applied", "[storage]") {
  TempDir tmp("crio-storage");
  StoreOptions bad{tmp / "root", tmp / "run", "btrfs", {}};
  CHECK(Store::open(bad).status().code() == Code::kInvalidArgument);
  bad.driver = "overlay";
  bad.root = "relative/root";
  CHECK(Store::open(bad).status().code() == Code::kInvalidArgument);
  bad.root = tmp / "root";
  bad.options = {"overlay.mount_program=fuse-overlayfs"};
  CHECK(Store::open(bad).status().code() == Code::kInvalidArgument);

  StoreOptions opts{tmp / "root", tmp / "run", "overlay", {"overlay.mountopt=nodev,noatime", "overlay.size=10G"}};
  auto store = Store::open(opts);
  INFO(store.status().to_string());
  REQUIRE(store.ok());
  auto& s = **store;
  auto w = s.begin_layer("");
  REQUIRE(w.ok());
  REQUIRE((*w)->apply_tar(reader(base_tar())).ok());
  auto l = (*w)->commit(sha256_of(base_tar()), "", 0);
  REQUIRE(l.ok());
  crio::storage::ImageRecord rec;
  rec.id = sha256_of("config").substr(7);
  rec.top_layer = l->chain_id;
  REQUIRE(s.create_image(rec).ok());
  REQUIRE(s.create_container("c1", rec.id).ok());
  auto root = s.mount("c1");
  INFO(root.status().to_string());
  REQUIRE(root.ok());
  std::string mountinfo = crio::test::read_file("/proc/self/mountinfo");
  auto at = mountinfo.find(" " + *root + " ");
  REQUIRE(at != std::string::npos);
  std::string line = mountinfo.substr(at, mountinfo.find('\n', at) - at);
  INFO(line);
  CHECK(line.find("nodev") != std::string::npos);
  CHECK(line.find("noatime") != std::string::npos);
  CHECK(line.find("overlay") != std::string::npos);
  REQUIRE(s.delete_container("c1").ok());
  CHECK_FALSE(mounted_below(tmp.path()));
}

TEST_CASE("store: an imagestore keeps images and their layers apart from root, and containers stay under root",
          "[storage]") {
  TempDir tmp{"crio-imagestore"};
  StoreOptions options{tmp / "root", tmp / "run", "overlay", {}};
  options.image_store = tmp / "images";
  auto opened = Store::open(options);
  INFO(opened.status().to_string());
  REQUIRE(opened.ok());
  std::unique_ptr<Store> store = std::move(opened).value();
  Env<Overlay> helper;  // its add_* helpers, pointed at this store
  helper.store.swap(store);

  Layer base = helper.add_layer("", base_tar());
  Layer child = helper.add_layer(base.chain_id, child_tar());
  Image img = helper.add_image(child.chain_id, "config-imagestore", {"example.com/apart:1"});
  std::string root = helper.rootfs("c1", img.id);
  CHECK(slurp(root + "/etc/hostname") == "child\n");
  CHECK_FALSE(exists_nofollow(root + "/gone.txt"));
  crio::test::write_file(root + "/written", "mine");

  // Layers and image records in the imagestore; the container's layer under root.
  CHECK(stdfs::exists(tmp / "images/overlay/" + base.chain_id.substr(7) + "/diff/etc/passwd"));
  CHECK(stdfs::exists(tmp / "images/overlay-images/images.json"));
  CHECK(stdfs::exists(tmp / "images/overlay-layers/layers.json"));
  CHECK_FALSE(stdfs::exists(tmp / "root/overlay/" + base.chain_id.substr(7)));
  CHECK(root.rfind(tmp / "root/overlay/", 0) == 0);
  CHECK(slurp(tmp / "root/overlay/" + helper.store->container("c1")->layer_id + "/diff/written") == "mine");
  auto usage = helper.store->usage();
  REQUIRE(usage.ok());
  CHECK(usage->layers.bytes > 0);
  CHECK(usage->containers.bytes > 0);

  // Reopened with the imagestore: everything is back, the mount included.
  helper.store.reset();
  opened = Store::open(options);
  REQUIRE(opened.ok());
  helper.store = std::move(opened).value();
  REQUIRE(helper.store->image("example.com/apart:1").has_value());
  auto m = helper.store->mount("c1");
  REQUIRE(m.ok());
  CHECK(slurp(*m + "/written") == "mine");
  REQUIRE(helper.store->unmount("c1", true).ok());
  REQUIRE(helper.store->delete_container("c1").ok());
  REQUIRE(helper.store->delete_image(img.id).ok());
  CHECK_FALSE(stdfs::exists(tmp / "images/overlay/" + base.chain_id.substr(7)));
  helper.add_image(helper.add_layer("", base_tar()).chain_id, "config-imagestore", {"example.com/apart:1"});

  // Without the imagestore the same root has no images.
  helper.store.reset();
  StoreOptions plain = options;
  plain.image_store.clear();
  {
    auto without = Store::open(plain);
    REQUIRE(without.ok());
    CHECK((*without)->images().empty());
    CHECK((*without)->layers().empty());
  }

  // Overlay only, and an absolute path.
  StoreOptions vfs = options;
  vfs.driver = "vfs";
  CHECK(Store::open(vfs).status().code() == Code::kInvalidArgument);
  StoreOptions relative = options;
  relative.image_store = "images";
  CHECK(Store::open(relative).status().code() == Code::kInvalidArgument);
}

namespace {

// Where a layer's files are: overlay keeps them in diff/, vfs in the layer directory.
template <typename D>
std::string layer_files(const Env<D>& env, const std::string& chain) {
  std::string dir = env.home() + "/" + chain.substr(7);
  return std::string(D::kName) == "overlay" ? dir + "/diff" : dir;
}

bool names(const std::vector<crio::storage::StoreDamage>& damage, const std::string& id) {
  return std::any_of(damage.begin(), damage.end(), [&](const auto& d) { return d.id == id; });
}

}  // namespace

TEMPLATE_TEST_CASE("store: check finds injected damage and repair removes it, never an intact image", "[storage][check]",
                   Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Layer child = env.add_layer(base.chain_id, child_tar());
  Image damaged_candidate = env.add_image(child.chain_id, "config-a", {"example.com/a:1"});
  Layer other = env.add_layer("", make_tar({dir("./"), file("only", "other")}));
  Image intact = env.add_image(other.chain_id, "config-b", {"example.com/b:1"});
  REQUIRE(env.store->create_container("ca", damaged_candidate.id).ok());
  auto cb = env.store->create_container("cb", intact.id);
  REQUIRE(cb.ok());
  const StoreOptions options = env.options();

  // A sound store reports nothing, and check takes the store's lock.
  CHECK(Store::check(options).status().code() == Code::kFailedPrecondition);
  env.store.reset();
  auto sound = Store::check(options);
  REQUIRE(sound.ok());
  for (const auto& d : sound->layers) UNSCOPED_INFO(d.id << ": " << d.reason);
  CHECK(sound->layers.empty());
  CHECK(sound->images.empty());
  CHECK(sound->containers.empty());
  CHECK(sound->orphans.empty());

  crio::storage::RepairOptions force{.remove_containers = true};
  std::string damaged_layer;  // the layer each section damages
  SECTION("a truncated layer file") {
    ::truncate((layer_files(env, child.chain_id) + "/etc/group").c_str(), 2);
    damaged_layer = child.chain_id;
  }
  SECTION("a missing layer directory") {
    stdfs::remove_all(env.home() + "/" + base.chain_id.substr(7));
    damaged_layer = base.chain_id;
  }
  SECTION("an image record whose layer is gone") {
    const std::string file = env.tmp / "root" + "/" + TestType::kName + "-layers/layers.json";
    auto layers = nlohmann::json::parse(slurp(file));
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& l : layers) {
      if (l["chain-id"] != child.chain_id) kept.push_back(l);
    }
    crio::test::write_file(file, kept.dump());
  }
  auto report = Store::check(options);
  REQUIRE(report.ok());
  if (!damaged_layer.empty()) CHECK(names(report->layers, damaged_layer));
  CHECK(names(report->images, damaged_candidate.id));
  CHECK(names(report->containers, "ca"));
  CHECK_FALSE(names(report->images, intact.id));
  CHECK_FALSE(names(report->containers, "cb"));

  // Without force the damaged container stays, and is still reported.
  auto failed = Store::repair(options, *report);
  REQUIRE(failed.ok());
  CHECK(failed->empty());
  auto after = Store::check(options);
  REQUIRE(after.ok());
  CHECK(after->layers.empty());
  CHECK(after->images.empty());
  CHECK(names(after->containers, "ca"));
  failed = Store::repair(options, *after, force);
  REQUIRE(failed.ok());
  CHECK(failed->empty());
  after = Store::check(options);
  REQUIRE(after.ok());
  CHECK(after->clean());

  env.open();
  CHECK_FALSE(env.store->image(damaged_candidate.id).has_value());
  CHECK_FALSE(env.store->container("ca").has_value());
  REQUIRE(env.store->image("example.com/b:1").has_value());
  auto m = env.store->mount("cb");
  REQUIRE(m.ok());
  CHECK(slurp(*m + "/only") == "other");
  REQUIRE(env.store->unmount("cb").ok());
}

TEMPLATE_TEST_CASE("store: check finds a container without its layer and leftovers, and repair removes them",
                   "[storage][check]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Image img = env.add_image(base.chain_id, "config-a", {"example.com/a:1"});
  auto c = env.store->create_container("gone", img.id);
  REQUIRE(c.ok());
  REQUIRE(env.store->create_container("kept", img.id).ok());
  const StoreOptions options = env.options();
  env.store.reset();

  // The container's layer directory is gone, a pull left its staging directory, and
  // a layer directory was renamed in without its record.
  stdfs::remove_all(env.home() + "/" + c->layer_id);
  crio::test::write_file(env.staging() + "/0123abcd/diff/etc/partial", "half");
  std::string stray = env.home() + "/" + sha256_of("stray").substr(7);
  crio::test::write_file(stray + "/diff/file", "stray");

  auto report = Store::check(options);
  REQUIRE(report.ok());
  CHECK(names(report->containers, "gone"));
  CHECK_FALSE(names(report->containers, "kept"));
  CHECK(names(report->orphans, env.staging() + "/0123abcd"));
  CHECK(names(report->orphans, stray));
  CHECK(report->images.empty());
  CHECK(report->layers.empty());

  auto failed = Store::repair(options, *report, {.remove_containers = true});
  REQUIRE(failed.ok());
  CHECK(failed->empty());
  auto after = Store::check(options);
  REQUIRE(after.ok());
  CHECK(after->clean());
  CHECK_FALSE(exists_nofollow(stray));
  CHECK(count_entries(env.staging()) == 0);

  env.open();
  CHECK_FALSE(env.store->container("gone").has_value());
  CHECK(env.store->container("kept").has_value());
  CHECK(env.store->image(img.id).has_value());
}

TEMPLATE_TEST_CASE("store: check counts an old layer no image uses only past the given age", "[storage][check]",
                   Overlay, Vfs) {
  Env<TestType> env;
  Layer lone = env.add_layer("", base_tar());
  const StoreOptions options = env.options();
  env.store.reset();
  auto young = Store::check(options, {.contents = true, .unreferenced_age_seconds = 3600});
  REQUIRE(young.ok());
  CHECK(young->clean());
  auto any = Store::check(options, {.contents = false, .unreferenced_age_seconds = -1});
  REQUIRE(any.ok());
  CHECK(names(any->layers, lone.chain_id));
}

TEMPLATE_TEST_CASE("store: wipe empties the root, mounts included", "[storage][check]", Overlay, Vfs) {
  Env<TestType> env;
  Layer base = env.add_layer("", base_tar());
  Image img = env.add_image(base.chain_id, "config-a");
  env.rootfs("c1", img.id);
  const StoreOptions options = env.options();
  env.store.reset();
  REQUIRE(Store::wipe(options).ok());
  CHECK(count_entries(env.tmp / "root") == 0);
  CHECK_FALSE(mounted_below(env.tmp.path()));
  env.open();
  CHECK(env.store->images().empty());
}

TEMPLATE_TEST_CASE("store: on a full disk a layer fails RESOURCE_EXHAUSTED leaving nothing, and a container is still deleted",
                   "[storage][disk]", Overlay, Vfs) {
  crio::test::LoopDisk disk(16);
  auto opened = Store::open(StoreOptions{disk.path() + "/root", disk.path() + "/run", TestType::kName, {}});
  INFO(opened.status().to_string());
  REQUIRE(opened.ok());
  std::unique_ptr<Store> store = std::move(opened).value();
  const std::string staging = disk.path() + "/root/" + TestType::kName + "-staging";

  auto add = [&](const std::string& parent, const std::string& tar) -> crio::Result<Layer> {
    CRIO_ASSIGN_OR_RETURN(auto w, store->begin_layer(parent));
    CRIO_RETURN_IF_ERROR(w->apply_tar(reader(tar)));
    return w->commit(sha256_of(tar), sha256_of("compressed " + tar), static_cast<int64_t>(tar.size()));
  };
  auto base = add("", base_tar());
  REQUIRE(base.ok());
  crio::storage::ImageRecord rec;
  rec.id = sha256_of("config").substr(7);
  rec.top_layer = base->chain_id;
  rec.config = "config";
  rec.manifest = "{}";
  REQUIRE(store->create_image(rec).ok());

  // A layer larger than the disk.
  auto big = add(base->chain_id, make_tar({dir("./"), file("big", std::string(24 << 20, 'x'))}));
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().code() == Code::kResourceExhausted);
  CHECK(big.status().message().find("unpacking into " + staging) != std::string::npos);
  CHECK(big.status().message().find("No space left on device") != std::string::npos);
  CHECK(count_entries(staging) == 0);
  CHECK(store->layers().size() == 1);

  // A container whose writable layer takes every block left.
  auto c = store->create_container("filler", rec.id);
  REQUIRE(c.ok());
  auto root = store->mount("filler");
  REQUIRE(root.ok());
  const int64_t free_before = disk.free_bytes();
  {
    std::ofstream out(*root + "/fill", std::ios::binary);
    const std::string chunk(1 << 16, 'x');
    while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) {
    }
  }
  for (int i = 0; ::mkdir((*root + "/d" + std::to_string(i)).c_str(), 0755) == 0; ++i) {
  }
  REQUIRE(disk.free_bytes() == 0);
  auto refused = store->create_container("late", rec.id);
  CHECK(refused.status().code() == Code::kResourceExhausted);

  crio::Status deleted = store->delete_container("filler");
  INFO(deleted.to_string());
  REQUIRE(deleted.ok());
  CHECK_FALSE(store->container("filler").has_value());
  CHECK(disk.free_bytes() >= free_before - (64 << 10));
  CHECK(count_entries(staging) == 0);
  // What the record says is what a reopened store finds.
  store.reset();
  auto reopened = Store::open(StoreOptions{disk.path() + "/root", disk.path() + "/run", TestType::kName, {}});
  REQUIRE(reopened.ok());
  CHECK((*reopened)->containers().empty());
  CHECK((*reopened)->create_container("late", rec.id).ok());
  CHECK((*reopened)->delete_container("late").ok());
}
