// libFuzzer target for the daemon configuration: YAML parsing, validation against the schemas
// of the top level and of every built-in connector, cross-field rules, and secret references
// (${env:}, ${file:}, ${cred:}). docs/fuzzing.md has the build and run commands.
//
// The input is a whole config file, parsed as if it were config/fuzz.yaml of the repository, so
// relative paths (../mappings/x.yaml) reach the shipped files. The environment is a fixed fake:
// three variables hold secret values, CREDENTIALS_DIRECTORY is a scratch directory with one
// credential. Contracts besides sanitizer reports: a refused file says why; no diagnostic and no
// redacted rendering ever contains a resolved secret value.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/builtin.h"
#include "fuzz/fuzz_support.h"
#include "src/config/daemon_config.h"
#include "src/core/registry.h"
#include "src/schema/secrets.h"

namespace {

using dutybridge::fuzz::contractBroken;

// Every secret value the fake environment can hand out (each 4+ characters, so it is masked).
constexpr std::string_view kEnvSecret = "Zq7-env-secret";
constexpr std::string_view kPasswordSecret = "Kp3-kafka-password";
constexpr std::string_view kCredSecret = "Wm5-cred-secret";

struct Fixture {
  dutybridge::core::Registry registry;
  std::filesystem::path credentials;
  dutybridge::schema::SecretResolver secrets;

  Fixture()
      : credentials(dutybridge::fuzz::workDir() / "credentials"),
        secrets([this](const std::string& name) -> std::optional<std::string> {
          static const std::map<std::string, std::string, std::less<>> env = {
              {"DB_PASSWORD", std::string(kEnvSecret)},
              {"KAFKA_PASSWORD", std::string(kPasswordSecret)},
              {"PLAIN", "not-secret-bootstrap:9092"},
          };
          if (name == "CREDENTIALS_DIRECTORY") return credentials.string();
          auto it = env.find(name);
          if (it == env.end()) return std::nullopt;
          return it->second;
        }) {
    dutybridge::connectors::registerBuiltinConnectors(registry);
    std::filesystem::create_directories(credentials);
    dutybridge::fuzz::writeFile("credentials/admin-token", std::string(kCredSecret) + "\n");
  }
};

bool leaks(std::string_view text) {
  return text.find(kEnvSecret) != std::string_view::npos || text.find(kPasswordSecret) != std::string_view::npos ||
         text.find(kCredSecret) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::filesystem::path file = dutybridge::fuzz::sourceDir() / "config" / "fuzz.yaml";
  auto loaded = dutybridge::config::parseDaemonConfig(text, file, fixture.registry, fixture.secrets);
  // A value the file itself spells out is no resolved secret; only check inputs that do not.
  const bool check_leaks = !leaks(text);
  if (!loaded) {
    if (loaded.error().empty()) contractBroken("a refused config without a diagnostic");
    if (check_leaks && leaks(loaded.error().format())) contractBroken("a diagnostic shows a resolved secret value");
    return 0;
  }
  if (check_leaks && leaks(dutybridge::config::renderRedacted((*loaded)->root))) {
    contractBroken("the redacted configuration shows a resolved secret value");
  }
  return 0;
}
