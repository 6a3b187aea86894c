// Lineage output formats for provctl lineage: text, JSON, Graphviz dot and
// W3C PROV-JSON (https://www.w3.org/submissions/prov-json/).
//
// The input is a graph provctl has already checked: each vertex is a dataset
// version, `verified` when its anchor entry was proven included under a
// quorum-signed checkpoint; each arc says "child was derived from parent" and
// is backed by the child's verified entry. The formatters only print.
//
// PROV-JSON mapping (docs/cli.md, "lineage"):
//   entity     ds:<ns/name@V>            a dataset version (digest, entry index)
//   activity   ledger:entry/<index>      the anchoring of that version
//   agent      ledger:agency/<id>        the agency that signed the anchor
//   wasGeneratedBy   entity by its anchor activity
//   used             the anchor activity used each parent version
//   wasDerivedFrom   child from parent (with the activity)
//   wasAssociatedWith, wasAttributedTo   activity / entity to the agency
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prov::provctl {

struct LineageVertex {
  std::string dataset;
  uint64_t version = 0;
  uint32_t depth = 0;
  bool verified = false;       // anchor entry proven present
  std::string unverified_why;  // when !verified
  uint64_t entry_index = 0;
  uint64_t height = 0;
  int64_t time_ms = 0;
  std::string agency;
  std::string signer;          // "<agency>/<key name>" or base64 key
  std::string digest_hex;
  uint64_t size_bytes = 0;
  std::string media_type;
};

struct LineageArc {
  size_t child = 0;   // index into vertices
  size_t parent = 0;
};

struct LineageView {
  std::string chain_id;
  std::string direction;        // upstream | downstream | both
  uint32_t depth = 0;
  std::vector<LineageVertex> vertices;  // vertices[0] is the start
  std::vector<LineageArc> arcs;
  bool truncated = false;
};

// "ns/name@V".
std::string vertex_name(const LineageVertex& v);

std::string lineage_text(const LineageView& g);
std::string lineage_json(const LineageView& g);
std::string lineage_dot(const LineageView& g);
std::string lineage_prov_json(const LineageView& g);

}  // namespace prov::provctl
