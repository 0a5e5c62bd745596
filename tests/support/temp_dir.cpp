#include "temp_dir.hpp"

#include <sys/mount.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace crio::test {

namespace stdfs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (stdfs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  // Anything a test left mounted below the directory goes first, deepest first.
  std::ifstream mounts("/proc/self/mounts");
  std::vector<std::string> targets;
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string dev, target;
    in >> dev >> target;
    if (target.rfind(path_ + "/", 0) == 0) targets.push_back(target);
  }
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  std::error_code ec;
  stdfs::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace crio::test
