#include "src/catalog/position_catalog.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "src/common/file_read.h"
#include "src/schema/validator.h"

namespace dutybridge::catalog {
namespace {

// A missing key of a const node is an invalid node whose type queries throw: ask IsDefined first.
bool isMap(const YAML::Node& node) {
  return node.IsDefined() && node.IsMap();
}
bool isSeq(const YAML::Node& node) {
  return node.IsDefined() && node.IsSequence();
}
bool isAbsent(const YAML::Node& node) {
  return !node.IsDefined() || node.IsNull();
}

// Reads one catalog file, collecting every problem.
class Reader {
 public:
  Reader(const std::filesystem::path& file, diag::Diagnostics& diagnostics) : file_(file), diag_(diagnostics) {}

  core::SourceLocation at(const YAML::Node& node, const std::string& path) const {
    core::SourceLocation loc{file_.string(), 0, 0, path};
    if (node.IsDefined() && node.Mark().line >= 0) {
      loc.line = node.Mark().line + 1;
      loc.column = node.Mark().column + 1;
    }
    return loc;
  }
  void error(const YAML::Node& node, const std::string& path, std::string message, std::string hint = {}) {
    diag_.add(at(node, path), std::move(message), std::move(hint));
  }

  // Unknown keys of a map node, with a suggestion.
  void keys(const YAML::Node& node, const std::string& path, const std::vector<std::string>& allowed) {
    if (!isMap(node)) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string hint = diag::suggest(key, allowed);
      error(it->first, path.empty() ? key : path + "." + key, fmt::format("unknown key '{}'", key),
            hint.empty() ? "" : "did you mean '" + hint + "'?");
    }
  }

  std::string scalar(const YAML::Node& node) const { return node.IsDefined() && node.IsScalar() ? node.Scalar() : ""; }

  Title title(const YAML::Node& node, const std::string& path) {
    Title out;
    if (!node.IsDefined() || node.IsNull()) return out;
    if (node.IsScalar()) {
      out.en = node.Scalar();
      return out;
    }
    if (!isMap(node)) {
      error(node, path, "a title is text or {zh: ..., en: ...}");
      return out;
    }
    keys(node, path, {"zh", "en"});
    out.zh = scalar(node["zh"]);
    out.en = scalar(node["en"]);
    return out;
  }

  std::optional<core::Date> date(const YAML::Node& node, const std::string& path) {
    auto parsed = core::parseDate(scalar(node));
    if (!parsed) {
      error(node, path, "a date is written YYYY-MM-DD");
      return std::nullopt;
    }
    return *parsed;
  }

  Validity validity(const YAML::Node& node, const std::string& path) {
    Validity out{default_from_, std::nullopt};
    if (node["valid_from"]) {
      if (auto d = date(node["valid_from"], path + ".valid_from")) out.from = *d;
    }
    if (node["valid_to"] && !node["valid_to"].IsNull()) {
      if (auto d = date(node["valid_to"], path + ".valid_to")) {
        if (*d < out.from)
          error(node["valid_to"], path + ".valid_to", "'valid_to' is before 'valid_from'");
        else
          out.to = *d;
      }
    }
    return out;
  }

  void setDefaultFrom(core::Date day) { default_from_ = day; }

 private:
  const std::filesystem::path& file_;
  diag::Diagnostics& diag_;
  core::Date default_from_{0};
};

const std::set<std::string, std::less<>> kPeriods = {"SHIFT", "DAY", "WEEK", "MONTH", "HOUR"};
const std::set<std::string, std::less<>> kAggregations = {"SUM", "COUNT",         "COUNT_DISTINCT", "MIN",
                                                          "MAX", "RATIO_OF_SUMS", "WEIGHTED_AVG"};

std::string fromText(const Validity& v) {
  return core::formatDate(v.from);
}

}  // namespace

std::string_view toString(CompetenceKind kind) {
  switch (kind) {
    case CompetenceKind::Skill:
      return "SKILL";
    case CompetenceKind::Qualification:
      return "QUALIFICATION";
    case CompetenceKind::Training:
      return "TRAINING";
  }
  return "SKILL";
}

std::optional<core::Decimal> KpiDefinition::targetOn(core::Date day) const {
  std::optional<core::Decimal> out;
  for (const auto& target : targets) {
    if (target.from <= day) out = target.value;
  }
  return out;
}

const Competence* PositionCatalog::findCompetence(CompetenceKind kind, std::string_view code) const {
  for (const auto& c : competences) {
    if (c.kind == kind && c.code == code) return &c;
  }
  return nullptr;
}

std::expected<PositionCatalog, diag::Diagnostics> loadPositionCatalog(const std::filesystem::path& file) {
  diag::Diagnostics diagnostics;
  auto text = files::readRegularFile(file, files::kMaxConfigBytes, "the duty catalog");
  if (!text) {
    diagnostics.add(core::SourceLocation{file.string(), 0, 0, ""}, text.error().message);
    return std::unexpected(std::move(diagnostics));
  }
  diagnostics.addSource(file.string(), *text);
  Reader r(file, diagnostics);
  PositionCatalog catalog;
  try {
    YAML::Node root = YAML::Load(*text);
    schema::reportDuplicateKeys(root, file.string(), diagnostics);
    if (!isMap(root)) {
      r.error(root, "", "the duty catalog is a map with 'plant', 'time_zone' and 'positions'");
      return std::unexpected(std::move(diagnostics));
    }
    r.keys(root, "",
           {"plant", "time_zone", "valid_from", "departments", "skills", "qualifications", "trainings", "positions"});
    catalog.plant = r.scalar(root["plant"]);
    catalog.time_zone = root["time_zone"] ? r.scalar(root["time_zone"]) : "UTC";
    if (catalog.plant.empty()) r.error(root, "", "the duty catalog needs a 'plant'");
    if (!core::isKnownTimeZone(catalog.time_zone)) {
      r.error(root["time_zone"], "time_zone", "unknown time zone '" + catalog.time_zone + "'");
    }
    if (root["valid_from"]) {
      if (auto d = r.date(root["valid_from"], "valid_from")) r.setDefaultFrom(*d);
    }

    auto eachEntry = [&](const YAML::Node& map, const std::string& section, auto&& body) {
      if (isAbsent(map)) return;
      if (!isMap(map)) {
        r.error(map, section, "'" + section + "' is a map of codes");
        return;
      }
      for (auto it = map.begin(); it != map.end(); ++it) {
        const std::string code = it->first.Scalar();
        const std::string path = section + "." + code;
        if (code.empty() || code.find('|') != std::string::npos) {
          r.error(it->first, path, "codes must be non-empty and contain no '|'");
          continue;
        }
        YAML::Node node = it->second;
        if (node.IsScalar()) {  // CODE: title
          YAML::Node expanded(YAML::NodeType::Map);
          expanded["title"] = node;
          node = expanded;
        }
        if (!isMap(node)) {
          r.error(it->second, path, "an entry is a map (title, valid_from, ...)");
          continue;
        }
        body(code, node, path);
      }
    };

    eachEntry(root["departments"], "departments",
              [&](const std::string& code, const YAML::Node& node, const std::string& path) {
                r.keys(node, path, {"title", "valid_from", "valid_to"});
                catalog.departments.push_back({code, r.title(node["title"], path + ".title"), r.validity(node, path)});
              });
    const std::pair<const char*, CompetenceKind> kinds[] = {{"skills", CompetenceKind::Skill},
                                                            {"qualifications", CompetenceKind::Qualification},
                                                            {"trainings", CompetenceKind::Training}};
    for (const auto& [section, kind] : kinds) {
      eachEntry(root[section], section, [&](const std::string& code, const YAML::Node& node, const std::string& path) {
        if (kind == CompetenceKind::Skill)
          r.keys(node, path, {"title", "valid_from", "valid_to", "levels"});
        else
          r.keys(node, path, {"title", "valid_from", "valid_to"});
        Competence c{kind, code, r.title(node["title"], path + ".title"), r.validity(node, path), {}};
        const YAML::Node levels = node["levels"];
        for (size_t i = 0; isSeq(levels) && i < levels.size(); ++i) {
          const std::string lpath = fmt::format("{}.levels[{}]", path, i);
          r.keys(levels[i], lpath, {"level", "min_hours"});
          int level = 0;
          auto hours = core::Decimal::parse(r.scalar(levels[i]["min_hours"]));
          try {
            level = levels[i]["level"].as<int>();
          } catch (const YAML::Exception&) {
            level = 0;
          }
          if (level < 1 || !hours || hours->sign() < 0) {
            r.error(levels[i], lpath, "a level needs 'level' (1, 2, ...) and 'min_hours' (a number >= 0)");
            continue;
          }
          if (!c.levels.empty() && (level <= c.levels.back().level || *hours <= c.levels.back().min_hours)) {
            r.error(levels[i], lpath,
                    "levels go up: each needs a higher 'level' and more 'min_hours' than the one before");
            continue;
          }
          c.levels.push_back({level, *hours});
        }
        if (!isAbsent(levels) && !isSeq(levels)) r.error(levels, path + ".levels", "'levels' is a list");
        catalog.competences.push_back(std::move(c));
      });
    }
    auto department_known = [&](std::string_view code) {
      return std::any_of(catalog.departments.begin(), catalog.departments.end(),
                         [&](const Department& d) { return d.code == code; });
    };
    std::vector<std::string> department_codes;
    for (const auto& d : catalog.departments) department_codes.push_back(d.code);

    // KPI references ({code: KPI.X} only) resolved after every definition is read.
    struct Reference {
      std::string code;
      YAML::Node node;
      std::string path;
    };
    std::vector<Reference> references;

    eachEntry(
        root["positions"], "positions", [&](const std::string& code, const YAML::Node& node, const std::string& path) {
          r.keys(node, path, {"title", "department", "valid_from", "valid_to", "duties", "requirements"});
          Position position{code, r.title(node["title"], path + ".title"), std::nullopt, r.validity(node, path), {},
                            {}};
          if (!isAbsent(node["department"])) {
            std::string department = r.scalar(node["department"]);
            if (!department_known(department)) {
              std::string hint = diag::suggest(department, department_codes);
              r.error(node["department"], path + ".department", "unknown department '" + department + "'",
                      hint.empty() ? "" : "did you mean '" + hint + "'?");
            }
            position.department = department;
          }
          const YAML::Node duties = node["duties"];
          if (!isAbsent(duties) && !isSeq(duties)) {
            r.error(duties, path + ".duties", "'duties' is a list");
          }
          for (size_t d = 0; isSeq(duties) && d < duties.size(); ++d) {
            const YAML::Node dn = duties[d];
            const std::string dpath = fmt::format("{}.duties[{}]", path, d);
            r.keys(dn, dpath, {"code", "title", "responsibility", "valid_from", "valid_to", "kpis"});
            Duty duty{r.scalar(dn["code"]),
                      r.title(dn["title"], dpath + ".title"),
                      r.scalar(dn["responsibility"]),
                      r.validity(dn, dpath),
                      {}};
            if (duty.code.empty() || duty.code.find('|') != std::string::npos) {
              r.error(dn, dpath, "a duty needs a 'code' without '|'");
              continue;
            }
            for (const auto& other : position.duties) {
              if (other.code == duty.code && other.valid.overlaps(duty.valid)) {
                r.error(
                    dn["code"], dpath + ".code",
                    fmt::format("duty {} of position {} is listed twice with overlapping validity", duty.code, code));
              }
            }
            const YAML::Node kpis = dn["kpis"];
            for (size_t k = 0; isSeq(kpis) && k < kpis.size(); ++k) {
              const YAML::Node kn = kpis[k];
              const std::string kpath = fmt::format("{}.kpis[{}]", dpath, k);
              if (isMap(kn) && kn.size() == 1 && kn["code"]) {
                references.push_back({r.scalar(kn["code"]), kn, kpath});
                duty.kpi_codes.push_back(r.scalar(kn["code"]));
                continue;
              }
              r.keys(kn, kpath, {"code", "title", "unit", "period", "aggregation", "direction", "targets"});
              KpiDefinition kpi;
              kpi.code = r.scalar(kn["code"]);
              kpi.title = r.scalar(kn["title"]);
              kpi.duty_code = duty.code;
              kpi.position_code = code;
              kpi.unit = r.scalar(kn["unit"]);
              kpi.period = r.scalar(kn["period"]);
              kpi.aggregation = r.scalar(kn["aggregation"]);
              std::string direction = kn["direction"] ? r.scalar(kn["direction"]) : "HIGHER_IS_BETTER";
              kpi.lower_is_better = direction == "LOWER_IS_BETTER";
              if (!kpi.code.starts_with("KPI.") || kpi.code.find('|') != std::string::npos) {
                r.error(kn["code"], kpath + ".code", "KPI codes start with 'KPI.' and contain no '|'");
              }
              if (kpi.unit.empty()) r.error(kn, kpath, "KPI " + kpi.code + " needs a 'unit'");
              if (!kPeriods.contains(kpi.period)) {
                r.error(kn["period"], kpath + ".period", "'period' must be SHIFT, DAY, WEEK, MONTH or HOUR");
              }
              if (!kAggregations.contains(kpi.aggregation)) {
                r.error(
                    kn["aggregation"], kpath + ".aggregation",
                    "'aggregation' must be one of SUM, COUNT, COUNT_DISTINCT, MIN, MAX, RATIO_OF_SUMS, WEIGHTED_AVG");
              }
              if (direction != "HIGHER_IS_BETTER" && direction != "LOWER_IS_BETTER") {
                r.error(kn["direction"], kpath + ".direction",
                        "'direction' must be HIGHER_IS_BETTER or LOWER_IS_BETTER");
              }
              const YAML::Node targets = kn["targets"];
              for (size_t i = 0; isSeq(targets) && i < targets.size(); ++i) {
                auto from = core::parseDate(r.scalar(targets[i]["from"]));
                auto value = core::Decimal::parse(r.scalar(targets[i]["value"]));
                if (!from || !value) {
                  r.error(targets[i], fmt::format("{}.targets[{}]", kpath, i),
                          "a target needs 'from' (YYYY-MM-DD) and a numeric 'value'");
                  continue;
                }
                for (const auto& t : kpi.targets) {
                  if (t.from == *from) {
                    r.error(targets[i], fmt::format("{}.targets[{}]", kpath, i),
                            "two targets of KPI " + kpi.code + " start on the same day");
                  }
                }
                kpi.targets.push_back({*from, *value});
              }
              std::sort(kpi.targets.begin(), kpi.targets.end(),
                        [](const KpiTarget& a, const KpiTarget& b) { return a.from < b.from; });
              duty.kpi_codes.push_back(kpi.code);
              if (!catalog.kpis.emplace(kpi.code, kpi).second) {
                r.error(kn["code"], kpath + ".code",
                        "KPI " + kpi.code +
                            " is defined twice (a duty listed again refers to it as {code: " + kpi.code + "})");
              }
            }
            position.duties.push_back(std::move(duty));
          }
          const YAML::Node requirements = node["requirements"];
          if (!isAbsent(requirements) && !isSeq(requirements)) {
            r.error(requirements, path + ".requirements", "'requirements' is a list");
          }
          for (size_t q = 0; isSeq(requirements) && q < requirements.size(); ++q) {
            const YAML::Node rn = requirements[q];
            const std::string rpath = fmt::format("{}.requirements[{}]", path, q);
            r.keys(rn, rpath, {"skill", "qualification", "training", "min_level", "valid_from", "valid_to"});
            Requirement requirement;
            int named = 0;
            for (const auto& [key, kind] :
                 {std::pair{"skill", CompetenceKind::Skill}, std::pair{"qualification", CompetenceKind::Qualification},
                  std::pair{"training", CompetenceKind::Training}}) {
              if (rn[key]) {
                ++named;
                requirement.kind = kind;
                requirement.code = r.scalar(rn[key]);
              }
            }
            if (named != 1) {
              r.error(rn, rpath, "a requirement names exactly one 'skill', 'qualification' or 'training'");
              continue;
            }
            const char* key = requirement.kind == CompetenceKind::Skill           ? "skill"
                              : requirement.kind == CompetenceKind::Qualification ? "qualification"
                                                                                  : "training";
            const Competence* competence = catalog.findCompetence(requirement.kind, requirement.code);
            if (!competence) {
              std::vector<std::string> known;
              for (const auto& c : catalog.competences) {
                if (c.kind == requirement.kind) known.push_back(c.code);
              }
              std::string hint = diag::suggest(requirement.code, known);
              r.error(rn[key], rpath + "." + key,
                      fmt::format("unknown {} '{}' (not under '{}s')", key, requirement.code, key),
                      hint.empty() ? "" : "did you mean '" + hint + "'?");
            }
            if (rn["min_level"]) {
              int level = 0;
              try {
                level = rn["min_level"].as<int>();
              } catch (const YAML::Exception&) {
                level = 0;
              }
              if (requirement.kind != CompetenceKind::Skill) {
                r.error(rn["min_level"], rpath + ".min_level", "only a skill requirement has a 'min_level'");
              } else if (level < 1) {
                r.error(rn["min_level"], rpath + ".min_level", "'min_level' is a level: 1, 2, ...");
              } else if (competence && !competence->levels.empty() && level > competence->levels.back().level) {
                r.error(rn["min_level"], rpath + ".min_level",
                        fmt::format("skill {} has no level {} (its highest is {})", requirement.code, level,
                                    competence->levels.back().level));
              }
              requirement.min_level = level;
            } else if (requirement.kind == CompetenceKind::Skill) {
              requirement.min_level = 1;
            }
            requirement.valid = r.validity(rn, rpath);
            for (const auto& other : position.requirements) {
              if (other.kind == requirement.kind && other.code == requirement.code &&
                  other.valid.overlaps(requirement.valid)) {
                r.error(rn, rpath,
                        fmt::format("{} {} is required twice by position {} with overlapping validity (end the first "
                                    "with 'valid_to' before the second starts)",
                                    key, requirement.code, code));
              }
            }
            position.requirements.push_back(std::move(requirement));
          }
          catalog.positions.push_back(std::move(position));
        });
    for (const auto& ref : references) {
      if (!catalog.kpis.contains(ref.code)) {
        r.error(ref.node["code"], ref.path + ".code",
                "KPI " + ref.code + " is referred to but defined nowhere in the catalog");
      }
    }
  } catch (const YAML::Exception& e) {
    diagnostics.add(core::SourceLocation{file.string(), e.mark.line + 1, e.mark.column + 1, ""}, "YAML: " + e.msg);
  }
  if (!diagnostics.empty()) return std::unexpected(std::move(diagnostics));
  return catalog;
}

std::vector<CatalogElement> catalogElements(const PositionCatalog& catalog) {
  std::vector<CatalogElement> out;
  auto titled = [](CatalogElement& e, const Title& title) {
    if (!title.zh.empty()) e.title_zh = title.zh;
    if (!title.en.empty()) e.title_en = title.en;
  };
  for (const auto& d : catalog.departments) {
    CatalogElement e;
    e.key = fmt::format("DEPARTMENT|{}|{}", d.code, fromText(d.valid));
    e.element_type = "DEPARTMENT";
    e.code = d.code;
    e.department_code = d.code;
    titled(e, d.title);
    e.valid = d.valid;
    out.push_back(std::move(e));
  }
  for (const auto& c : catalog.competences) {
    CatalogElement e;
    e.element_type = std::string(toString(c.kind));
    e.key = fmt::format("{}|{}|{}", e.element_type, c.code, fromText(c.valid));
    e.code = c.code;
    titled(e, c.title);
    e.valid = c.valid;
    out.push_back(std::move(e));
    for (const auto& level : c.levels) {
      CatalogElement l;
      l.key = fmt::format("SKILL_LEVEL|{}|{}|{}", c.code, level.level, fromText(c.valid));
      l.element_type = "SKILL_LEVEL";
      l.code = c.code;
      l.level = level.level;
      l.min_hours = level.min_hours;
      l.valid = c.valid;
      out.push_back(std::move(l));
    }
  }
  for (const auto& p : catalog.positions) {
    CatalogElement e;
    e.key = fmt::format("POSITION|{}|{}", p.code, fromText(p.valid));
    e.element_type = "POSITION";
    e.code = p.code;
    e.position_code = p.code;
    e.department_code = p.department;
    titled(e, p.title);
    e.valid = p.valid;
    out.push_back(std::move(e));
    for (const auto& duty : p.duties) {
      CatalogElement de;
      de.key = fmt::format("DUTY|{}|{}|{}", p.code, duty.code, fromText(duty.valid));
      de.element_type = "DUTY";
      de.code = duty.code;
      de.position_code = p.code;
      de.duty_code = duty.code;
      titled(de, duty.title);
      if (!duty.responsibility.empty()) de.responsibility = duty.responsibility;
      de.valid = duty.valid;
      out.push_back(std::move(de));
      for (const auto& kpi_code : duty.kpi_codes) {
        auto found = catalog.kpis.find(kpi_code);
        if (found == catalog.kpis.end()) continue;
        const KpiDefinition& kpi = found->second;
        // One version per target period inside the duty's validity: [from_i, from_{i+1} - 1].
        std::vector<std::pair<Validity, std::optional<core::Decimal>>> versions;
        core::Date start = duty.valid.from;
        std::optional<core::Decimal> current = kpi.targetOn(start);
        for (const auto& t : kpi.targets) {
          if (t.from <= start) continue;
          if (duty.valid.to && t.from > *duty.valid.to) break;
          versions.push_back({Validity{start, core::Date{t.from.days - 1}}, current});
          start = t.from;
          current = t.value;
        }
        versions.push_back({Validity{start, duty.valid.to}, current});
        for (const auto& [valid, target] : versions) {
          CatalogElement ke;
          ke.key = fmt::format("DUTY_KPI|{}|{}|{}|{}", p.code, duty.code, kpi.code, core::formatDate(valid.from));
          ke.element_type = "DUTY_KPI";
          ke.code = kpi.code;
          ke.position_code = p.code;
          ke.duty_code = duty.code;
          ke.kpi_code = kpi.code;
          if (!kpi.title.empty()) ke.title_en = kpi.title;
          ke.unit = kpi.unit;
          ke.period_type = kpi.period;
          ke.direction = kpi.lower_is_better ? "LOWER_IS_BETTER" : "HIGHER_IS_BETTER";
          ke.target = target;
          ke.valid = valid;
          out.push_back(std::move(ke));
        }
      }
    }
    for (const auto& req : p.requirements) {
      CatalogElement re;
      re.key = fmt::format("REQUIREMENT|{}|{}|{}|{}", p.code, toString(req.kind), req.code, fromText(req.valid));
      re.element_type = "REQUIREMENT";
      re.code = req.code;
      re.position_code = p.code;
      re.requirement_type = std::string(toString(req.kind));
      re.level = req.min_level;
      re.valid = req.valid;
      out.push_back(std::move(re));
    }
  }
  return out;
}

}  // namespace dutybridge::catalog
