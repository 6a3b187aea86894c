// Lineage output formats; see lineage_format.h.
#include "tools/provctl/lineage_format.h"

#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

std::string entity_id(const LineageVertex& v) { return "ds:" + vertex_name(v); }
std::string activity_id(const LineageVertex& v) { return "ledger:entry/" + std::to_string(v.entry_index); }
std::string agent_id(const LineageVertex& v) { return "ledger:agency/" + v.agency; }

// Escapes a dot double-quoted string.
std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// A PROV-JSON bundle section: {"id": {attrs}, ...} in insertion order.
class Section {
 public:
  void add(const std::string& id, const JsonObject& attrs) {
    if (!ids_.insert(id).second) return;
    items_.emplace_back(id, attrs.dump());
  }
  bool empty() const { return items_.empty(); }
  std::string dump() const {
    std::string out = "{";
    for (size_t i = 0; i < items_.size(); ++i)
      out += (i ? ", " : "") + json_quote(items_[i].first) + ": " + items_[i].second;
    return out + "}";
  }

 private:
  std::set<std::string> ids_;
  std::vector<std::pair<std::string, std::string>> items_;
};

// A PROV-JSON typed literal {"$": value, "type": xsd type}.
std::string typed(const std::string& value, const std::string& type) {
  return JsonObject().str("$", value).str("type", type).dump();
}

}  // namespace

std::string vertex_name(const LineageVertex& v) { return v.dataset + "@" + std::to_string(v.version); }

std::string lineage_text(const LineageView& g) {
  std::ostringstream o;
  if (g.vertices.empty()) return "no lineage\n";
  o << "lineage of " << vertex_name(g.vertices[0]) << " (" << g.direction << ", depth " << g.depth << "): "
    << g.vertices.size() << " version" << (g.vertices.size() == 1 ? "" : "s") << ", " << g.arcs.size() << " edge"
    << (g.arcs.size() == 1 ? "" : "s") << (g.truncated ? ", TRUNCATED by a depth or node bound" : "") << "\n";
  for (const auto& v : g.vertices) {
    o << "  " << std::string(2 * v.depth, ' ') << vertex_name(v);
    if (v.verified)
      o << "  [verified entry " << v.entry_index << ", block " << v.height << ", " << iso_time(v.time_ms) << ", by "
        << v.signer << ", sha256:" << v.digest_hex.substr(0, 16) << "…]";
    else
      o << "  [NOT VERIFIED: " << v.unverified_why << "]";
    o << "\n";
  }
  if (!g.arcs.empty()) o << "edges (derived from):\n";
  for (const auto& a : g.arcs)
    o << "  " << vertex_name(g.vertices[a.child]) << " <- " << vertex_name(g.vertices[a.parent]) << "\n";
  return o.str();
}

std::string lineage_json(const LineageView& g) {
  std::vector<std::string> nodes, edges;
  for (const auto& v : g.vertices) {
    JsonObject n;
    n.str("dataset", v.dataset).num("version", static_cast<int64_t>(v.version)).num("depth", v.depth);
    n.boolean("verified", v.verified);
    if (v.verified) {
      n.num("entry_index", static_cast<int64_t>(v.entry_index))
          .num("height", static_cast<int64_t>(v.height))
          .str("time", iso_time(v.time_ms))
          .str("agency", v.agency)
          .str("signer", v.signer)
          .str("digest", v.digest_hex)
          .num("size_bytes", static_cast<int64_t>(v.size_bytes))
          .str("media_type", v.media_type);
    } else {
      n.str("unverified_reason", v.unverified_why);
    }
    nodes.push_back(n.dump());
  }
  for (const auto& a : g.arcs)
    edges.push_back(JsonObject()
                        .str("child", vertex_name(g.vertices[a.child]))
                        .str("parent", vertex_name(g.vertices[a.parent]))
                        .dump());
  return JsonObject()
      .boolean("ok", true)
      .str("direction", g.direction)
      .num("depth", g.depth)
      .raw("nodes", json_array(nodes))
      .raw("edges", json_array(edges))
      .boolean("truncated", g.truncated)
      .boolean("complete_proven", false)
      .dump();
}

std::string lineage_dot(const LineageView& g) {
  std::ostringstream o;
  o << "// provledger lineage: an edge points from a version to the version it was derived from.\n"
    << "// Every solid node is proven present; completeness is not yet proven.\n"
    << "digraph lineage {\n  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\"];\n";
  for (size_t i = 0; i < g.vertices.size(); ++i) {
    const auto& v = g.vertices[i];
    std::string label = vertex_name(v);
    if (v.verified) label += "\nentry " + std::to_string(v.entry_index) + " by " + v.agency + "\n" + iso_time(v.time_ms);
    else label += "\n(not verified)";
    o << "  n" << i << " [label=" << dot_quote(label) << (i == 0 ? ", penwidth=2" : "")
      << (v.verified ? "" : ", style=dashed") << "];\n";
  }
  for (const auto& a : g.arcs) o << "  n" << a.child << " -> n" << a.parent << " [label=\"derived from\"];\n";
  o << "}\n";
  return o.str();
}

std::string lineage_prov_json(const LineageView& g) {
  Section entity, activity, agent, generated, used, derived, associated, attributed;
  for (const auto& v : g.vertices) {
    JsonObject e;
    e.str("prov:label", vertex_name(v))
        .str("prov:type", "provledger:DatasetVersion")
        .str("provledger:dataset", v.dataset)
        .raw("provledger:version", typed(std::to_string(v.version), "xsd:unsignedLong"))
        .boolean("provledger:verified", v.verified);
    if (v.verified) {
      e.str("provledger:sha256", v.digest_hex)
          .raw("provledger:sizeBytes", typed(std::to_string(v.size_bytes), "xsd:unsignedLong"))
          .str("provledger:mediaType", v.media_type)
          .raw("provledger:entryIndex", typed(std::to_string(v.entry_index), "xsd:unsignedLong"));
    }
    entity.add(entity_id(v), e);
    if (!v.verified) continue;
    activity.add(activity_id(v), JsonObject()
                                     .str("prov:type", "provledger:Anchor")
                                     .str("prov:label", "anchor of " + vertex_name(v))
                                     .raw("prov:startTime", typed(iso_time(v.time_ms), "xsd:dateTime"))
                                     .raw("prov:endTime", typed(iso_time(v.time_ms), "xsd:dateTime"))
                                     .raw("provledger:blockHeight", typed(std::to_string(v.height), "xsd:unsignedLong")));
    agent.add(agent_id(v), JsonObject().str("prov:type", "prov:Organization").str("prov:label", v.agency));
    const std::string n = std::to_string(v.entry_index);
    generated.add("_:gen" + n, JsonObject()
                                   .str("prov:entity", entity_id(v))
                                   .str("prov:activity", activity_id(v))
                                   .raw("prov:time", typed(iso_time(v.time_ms), "xsd:dateTime")));
    associated.add("_:assoc" + n, JsonObject().str("prov:activity", activity_id(v)).str("prov:agent", agent_id(v)));
    attributed.add("_:attr" + n, JsonObject().str("prov:entity", entity_id(v)).str("prov:agent", agent_id(v)));
  }
  size_t k = 0;
  for (const auto& a : g.arcs) {
    const auto& child = g.vertices[a.child];
    const auto& parent = g.vertices[a.parent];
    const std::string n = std::to_string(k++);
    JsonObject d;
    d.str("prov:generatedEntity", entity_id(child)).str("prov:usedEntity", entity_id(parent));
    if (child.verified) d.str("prov:activity", activity_id(child));
    derived.add("_:der" + n, d);
    if (child.verified)
      used.add("_:use" + n, JsonObject().str("prov:activity", activity_id(child)).str("prov:entity", entity_id(parent)));
  }
  JsonObject doc;
  doc.raw("prefix", JsonObject()
                        .str("prov", "http://www.w3.org/ns/prov#")
                        .str("xsd", "http://www.w3.org/2001/XMLSchema#")
                        .str("provledger", "https://provledger.org/ns#")
                        .str("ledger", "urn:provledger:" + g.chain_id + ":")
                        .str("ds", "urn:provledger:" + g.chain_id + ":dataset:")
                        .dump());
  doc.raw("entity", entity.dump());
  if (!activity.empty()) doc.raw("activity", activity.dump());
  if (!agent.empty()) doc.raw("agent", agent.dump());
  if (!generated.empty()) doc.raw("wasGeneratedBy", generated.dump());
  if (!used.empty()) doc.raw("used", used.dump());
  if (!derived.empty()) doc.raw("wasDerivedFrom", derived.dump());
  if (!associated.empty()) doc.raw("wasAssociatedWith", associated.dump());
  if (!attributed.empty()) doc.raw("wasAttributedTo", attributed.dump());
  return doc.dump() + "\n";
}

}  // namespace prov::provctl
