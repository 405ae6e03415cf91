#pragma once
// Typed settings: a ConfigSchema whose fields are bound to the members of a settings struct, so
// that a field's name, default, bounds and documentation exist once (its FieldSpec), the one
// validator checks them (and the schema's cross-field rules) once, and a factory's create()
// receives the struct instead of re-reading untyped getters:
//
//   struct TailSettings { std::string path; std::chrono::milliseconds poll{}; std::optional<std::string> tag; };
//   const SettingsSchema<TailSettings>& tailSettings() {
//     static const auto* s = &(*new SettingsSchema<TailSettings>())
//         .field(FieldSpec::make("path", FieldType::String).req(), &TailSettings::path)
//         .field(FieldSpec::make("poll", FieldType::Duration).def("1s"), &TailSettings::poll)
//         .field(FieldSpec::make("tag", FieldType::String), &TailSettings::tag);
//     return *s;
//   }
//   ... configSchema() returns tailSettings().schema(); create() calls tailSettings().read(config).
//
// Member types: std::string; bool; any integer (Int and Size fields; a value outside the member's
// range is an error); std::chrono::duration (Duration fields, to the member's period, rounded
// toward zero); std::vector<std::string> (StringList); std::vector<std::pair<std::string,
// std::string>> (StringMap). A field that is neither required nor defaulted must be bound to a
// std::optional of one of these (absent = nullopt), so no default hides in a struct initialiser:
// binding it to a plain member throws std::logic_error when the schema is built (start-up, every
// test). A converter turns the validated value into another type (an enum, a parsed identifier)
// and may refuse it with an InvalidConfig error naming the field.
//
// Shared groups (an ODBC connection, a Kafka producer's queue) are a SettingsSchema of their own,
// included into several connectors' schemas with group(), read into one member.
//
// Threading: build once (function-local static), then read-only; read() may run on any thread.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "src/core/config_schema.h"
#include "src/core/error.h"

namespace dutybridge::core {

namespace settings_detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {
  using type = T;
};

template <class T>
struct IsDuration : std::false_type {};
template <class R, class P>
struct IsDuration<std::chrono::duration<R, P>> : std::true_type {};

// The validated entry as the member's type.
template <class M>
Result<M> convert(const ConfigObject::Entry& entry, const ConfigObject& object) {
  const std::string& name = entry.name;
  if constexpr (std::is_same_v<M, std::string>) {
    return object.getString(name);
  } else if constexpr (std::is_same_v<M, bool>) {
    return object.getBool(name);
  } else if constexpr (IsDuration<M>::value) {
    return std::chrono::duration_cast<M>(object.getDuration(name));
  } else if constexpr (std::is_integral_v<M>) {
    int64_t value = entry.type == FieldType::Size ? object.getSize(name) : object.getInt(name);
    if (!std::in_range<M>(value)) return fail(ErrorKind::InvalidConfig, "'" + name + "' is out of range");
    return static_cast<M>(value);
  } else if constexpr (std::is_same_v<M, std::vector<std::string>>) {
    return object.getStringList(name);
  } else if constexpr (std::is_same_v<M, std::vector<std::pair<std::string, std::string>>>) {
    return object.getStringMap(name);
  } else {
    static_assert(sizeof(M) == 0, "SettingsSchema: no conversion to this member type; pass a converter");
  }
}

}  // namespace settings_detail

template <class S>
class SettingsSchema {
 public:
  // Reads one validated field into `out`; InvalidConfig when a converter refuses it.
  using Reader = std::function<Status(S& out, const ConfigObject& object)>;

  SettingsSchema() = default;

  // A field read into `member` (member types above).
  template <class M>
  SettingsSchema& field(FieldSpec spec, M S::*member) {
    using Plain = typename std::conditional_t<settings_detail::IsOptional<M>::value, settings_detail::IsOptional<M>,
                                              std::type_identity<M>>::type;
    return field(std::move(spec), member, [](const Plain& value) -> Result<Plain> { return value; });
  }

  // A field read as `In` (a member type above, e.g. std::string) and turned into the member's
  // type by `convert(const In&) -> Result<Out>` (or Out).
  template <class M, class Convert>
  SettingsSchema& field(FieldSpec spec, M S::*member, Convert convert) {
    constexpr bool optional = settings_detail::IsOptional<M>::value;
    checkBinding(spec, optional);
    using In = std::remove_cvref_t<typename FirstArg<Convert>::type>;
    std::string name = spec.name;
    readers_.push_back([name, member, convert](S& out, const ConfigObject& object) -> Status {
      const ConfigObject::Entry* entry = object.find(name);
      if (!entry || !object.has(name)) return {};
      auto in = settings_detail::convert<In>(*entry, object);
      if (!in) return std::unexpected(in.error());
      auto converted = wrap(convert(*in));
      if (!converted) return std::unexpected(converted.error());
      out.*member = std::move(*converted);
      return {};
    });
    fields_.push_back(std::move(spec));
    rebuild();
    return *this;
  }

  // The fields of a shared group, validated in this schema's object, read into `member`.
  template <class G>
  SettingsSchema& group(const SettingsSchema<G>& shared, G S::*member) {
    for (const auto& spec : shared.fields_) fields_.push_back(spec);
    for (const auto& read : shared.readers_) {
      readers_.push_back([read, member](S& out, const ConfigObject& object) { return read(out.*member, object); });
    }
    for (const auto& check : shared.checks_) checks_.push_back(check);
    rebuild();
    return *this;
  }

  // A nested object (`tls: {cert, key}`) with settings of its own, read into `member` when the
  // file has it (nullopt when absent). `spec` names it and documents it; its type becomes Object.
  template <class G>
  SettingsSchema& section(FieldSpec spec, const SettingsSchema<G>& nested, std::optional<G> S::*member) {
    const std::string name = spec.name;
    auto inner = std::make_shared<const ConfigSchema>(nested.schema());
    spec.type = FieldType::Object;
    fields_.push_back(std::move(spec).fields(inner));
    readers_.push_back([name, member, &nested](S& out, const ConfigObject& object) -> Status {
      const ConfigObject::Entry* entry = object.find(name);
      if (!entry || entry->defaulted || entry->objects.empty()) {
        out.*member = std::nullopt;
        return {};
      }
      auto read = nested.read(entry->objects.front());
      if (!read) return std::unexpected(read.error());
      out.*member = std::move(*read);
      return {};
    });
    rebuild();
    return *this;
  }

  // A cross-field rule over the validated object; it runs in the validator (check and run alike)
  // and sees only the fields that validated.
  SettingsSchema& check(ConfigSchema::CrossCheck rule) {
    checks_.push_back(std::move(rule));
    rebuild();
    return *this;
  }

  // The schema the validator, list-connectors and the generated docs use.
  const ConfigSchema& schema() const { return *schema_; }

  // The settings of an object this schema validated.
  Result<S> read(const ConfigObject& object) const {
    S out{};
    if (auto status = readInto(out, object); !status) return std::unexpected(status.error());
    return out;
  }
  // Same, into an object whose members not bound here are already set.
  Status readInto(S& out, const ConfigObject& object) const {
    for (const auto& reader : readers_) {
      if (auto status = reader(out, object); !status) return status;
    }
    return {};
  }

 private:
  template <class>
  friend class SettingsSchema;

  template <class F>
  struct FirstArg : FirstArg<decltype(&F::operator())> {};
  template <class R, class A>
  struct FirstArg<R (*)(A)> {
    using type = A;
  };
  template <class R, class A>
  struct FirstArg<R (*)(A) noexcept> {
    using type = A;
  };
  template <class C, class R, class A>
  struct FirstArg<R (C::*)(A) const> {
    using type = A;
  };
  template <class C, class R, class A>
  struct FirstArg<R (C::*)(A) const noexcept> {
    using type = A;
  };
  template <class C, class R, class A>
  struct FirstArg<R (C::*)(A)> {
    using type = A;
  };

  template <class T>
  static auto wrap(T&& value) {
    if constexpr (requires {
                    value.has_value();
                    value.error();
                  }) {
      return std::forward<T>(value);
    } else {
      return Result<std::remove_cvref_t<T>>(std::forward<T>(value));
    }
  }

  // Building happens once, at start-up: the schema is rebuilt after every declaration so that
  // schema() stays a plain read.
  void rebuild() {
    auto checks = checks_;
    schema_ = std::make_shared<const ConfigSchema>(fields_, [checks](const ConfigObject& object) {
      std::vector<ConfigProblem> problems;
      for (const auto& rule : checks) {
        auto found = rule(object);
        problems.insert(problems.end(), found.begin(), found.end());
      }
      return problems;
    });
  }

  static void checkBinding(const FieldSpec& spec, bool optional) {
    bool always_present = spec.required || spec.default_value.has_value() || spec.type == FieldType::StringList ||
                          spec.type == FieldType::StringMap;
    if (!always_present && !optional) {
      throw std::logic_error("settings field '" + spec.name +
                             "' has no default and is not required: bind it to a std::optional member");
    }
  }

  std::vector<FieldSpec> fields_;
  std::vector<Reader> readers_;
  std::vector<ConfigSchema::CrossCheck> checks_;
  std::shared_ptr<const ConfigSchema> schema_ = std::make_shared<const ConfigSchema>(std::vector<FieldSpec>{});
};

}  // namespace dutybridge::core
