#pragma once
// A fresh directory for one test, removed (with everything in it, unmounting first
// if needed) when the test ends, pass or fail.

#include <string>

namespace crio::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "crio-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating parent directories.
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace crio::test
