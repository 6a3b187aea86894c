// verify_receipt checks provledger receipts and checkpoints with Go's
// golang.org/x/mod/sumdb/note (C2SP signed notes) and
// golang.org/x/mod/sumdb/tlog (RFC 6962/9162 Merkle proofs): software no one
// on the provledger team wrote. Only the formats in docs/receipts.md and the
// C2SP specs are implemented here; every signature and every hash of a Merkle
// proof is checked by those two packages.
//
//	verify_receipt -genesis genesis.json -receipt FILE.tlog-proof
//	               [-vkeys validate.json] [-checkpoint OLD.note]
//	               [-checkpoint2 NEW.note -consistency proof.json]
//
// -vkeys is `provctl --json genesis validate` output: its vkeys must equal the
// ones derived here from genesis.json. With -checkpoint, that saved checkpoint
// is verified too, and must not be larger than the receipt's (a prefix check
// needs a consistency proof: give -checkpoint2 and -consistency, the JSON of
// GET /v1/proofs/consistency, whose path is checked against the two saved
// checkpoints' own roots, never the roots in the answer).
//
// Exit 0 only if everything asked for verified; 1 on any failure; 2 on usage.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type genesis struct {
	ChainID    string `json:"chain_id"`
	Validators []struct {
		Name   string `json:"name"`
		PubKey string `json:"pub_key"`
	} `json:"validators"`
}

type checkpoint struct {
	origin  string
	size    int64
	root    tlog.Hash
	signers []string
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// vkeyFor derives the C2SP signed-note verifier key from the spec:
// name "+" hex(key ID) "+" base64(0x01 ‖ pub), key ID = first 4 bytes of
// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pub). note.NewVerifier re-derives the key ID
// itself and refuses a vkey whose ID does not match.
func vkeyFor(name string, pub []byte) string {
	key := append([]byte{0x01}, pub...)
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0x0A})
	h.Write(key)
	id := binary.BigEndian.Uint32(h.Sum(nil)[:4])
	return fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(key))
}

// openCheckpoint opens a C2SP tlog-checkpoint note with note.Open and
// requires q distinct genesis validators among the verified signatures.
func openCheckpoint(what string, msg []byte, g *genesis, verifiers note.Verifiers, q int) checkpoint {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		fail("%s: note.Open: %v", what, err)
	}
	distinct := map[string]bool{}
	var signers []string
	for _, s := range n.Sigs {
		if !distinct[s.Name] {
			distinct[s.Name] = true
			signers = append(signers, s.Name)
		}
	}
	if len(distinct) < q {
		fail("%s: %d verified validator signatures, needs %d of %d", what, len(distinct), q, len(g.Validators))
	}
	// Body: exactly origin, size, root (docs/receipts.md; C2SP tlog-checkpoint).
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 3 {
		fail("%s: checkpoint text has %d lines, want 3", what, len(lines))
	}
	if lines[0] != g.ChainID {
		fail("%s: origin %q is not the genesis chain id %q", what, lines[0], g.ChainID)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("%s: bad tree size %q", what, lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("%s: bad root %q", what, lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{origin: lines[0], size: size, root: root, signers: signers}
}

type receipt struct {
	entry []byte
	index int64
	proof tlog.RecordProof
	note  []byte
}

// parseReceipt parses a C2SP tlog-proof: header, "extra <b64>", "index N",
// base64 path hashes, a blank line, then the checkpoint note byte for byte.
func parseReceipt(data []byte) (*receipt, error) {
	i := bytes.Index(data, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("no blank line before the checkpoint")
	}
	head, noteBytes := string(data[:i]), data[i+2:]
	lines := strings.Split(head, "\n")
	if len(lines) < 3 || lines[0] != "c2sp.org/tlog-proof@v1" {
		return nil, errors.New("not a c2sp.org/tlog-proof@v1")
	}
	r := &receipt{note: noteBytes}
	if !strings.HasPrefix(lines[1], "extra ") {
		return nil, errors.New("no extra line (the entry bytes)")
	}
	var err error
	if r.entry, err = base64.StdEncoding.DecodeString(lines[1][len("extra "):]); err != nil {
		return nil, fmt.Errorf("extra: %v", err)
	}
	if !strings.HasPrefix(lines[2], "index ") {
		return nil, errors.New("no index line")
	}
	idx := lines[2][len("index "):]
	if r.index, err = strconv.ParseInt(idx, 10, 64); err != nil || r.index < 0 || strconv.FormatInt(r.index, 10) != idx {
		return nil, fmt.Errorf("bad index %q", idx)
	}
	for _, l := range lines[3:] {
		raw, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("bad path hash %q", l)
		}
		var h tlog.Hash
		copy(h[:], raw)
		r.proof = append(r.proof, h)
	}
	return r, nil
}

func readFile(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	return b
}

func short(h tlog.Hash) string { s := hex.EncodeToString(h[:]); return s[:8] + "…" + s[56:] }

func main() {
	genesisPath := flag.String("genesis", "", "genesis.json (chain id, validator names and public keys)")
	receiptPath := flag.String("receipt", "", "a .tlog-proof receipt")
	vkeysPath := flag.String("vkeys", "", "optional: `provctl --json genesis validate` output to cross-check")
	cp1Path := flag.String("checkpoint", "", "optional: a saved checkpoint note (older)")
	cp2Path := flag.String("checkpoint2", "", "optional: a second saved checkpoint note (newer)")
	consPath := flag.String("consistency", "", "optional: GET /v1/proofs/consistency JSON for -checkpoint → -checkpoint2")
	flag.Parse()
	if *genesisPath == "" || *receiptPath == "" || flag.NArg() != 0 || (*consPath != "") != (*cp2Path != "") || (*cp2Path != "" && *cp1Path == "") {
		fmt.Fprintln(os.Stderr, "usage: verify_receipt -genesis G -receipt R [-vkeys J] [-checkpoint OLD [-checkpoint2 NEW -consistency P]]")
		os.Exit(2)
	}

	// Trust root: the genesis validators.
	var g genesis
	if err := json.Unmarshal(readFile(*genesisPath), &g); err != nil {
		fail("genesis: %v", err)
	}
	if len(g.Validators) == 0 {
		fail("genesis: no validators")
	}
	q := 2*len(g.Validators)/3 + 1
	var list []note.Verifier
	vkeys := map[string]string{}
	for _, v := range g.Validators {
		pub, err := base64.StdEncoding.DecodeString(v.PubKey)
		if err != nil || len(pub) != 32 {
			fail("genesis: validator %q: bad pub_key", v.Name)
		}
		vk := vkeyFor(v.Name, pub)
		ver, err := note.NewVerifier(vk)
		if err != nil {
			fail("note.NewVerifier(%s): %v", vk, err)
		}
		vkeys[v.Name] = vk
		list = append(list, ver)
	}
	verifiers := note.VerifierList(list...)
	fmt.Printf("genesis %s: chain %q, %d validators, quorum %d (vkeys accepted by note.NewVerifier)\n",
		*genesisPath, g.ChainID, len(g.Validators), q)

	if *vkeysPath != "" {
		var out struct {
			Validators []struct{ Name, Vkey string } `json:"validators"`
		}
		if err := json.Unmarshal(readFile(*vkeysPath), &out); err != nil {
			fail("vkeys: %v", err)
		}
		if len(out.Validators) != len(vkeys) {
			fail("vkeys: provctl lists %d validators, genesis has %d", len(out.Validators), len(vkeys))
		}
		for _, v := range out.Validators {
			if vkeys[v.Name] != v.Vkey {
				fail("vkeys: provctl prints %q for %s, the C2SP formula gives %q", v.Vkey, v.Name, vkeys[v.Name])
			}
		}
		fmt.Printf("vkeys: provctl genesis validate prints the same %d vkeys\n", len(vkeys))
	}

	// The receipt: inclusion of the entry bytes under a quorum-signed checkpoint.
	r, err := parseReceipt(readFile(*receiptPath))
	if err != nil {
		fail("receipt %s: %v", *receiptPath, err)
	}
	cp := openCheckpoint("receipt checkpoint", r.note, &g, verifiers, q)
	if r.index >= cp.size {
		fail("receipt: index %d is not below the checkpoint size %d", r.index, cp.size)
	}
	leaf := tlog.RecordHash(r.entry)
	if err := tlog.CheckRecord(r.proof, cp.size, cp.root, r.index, leaf); err != nil {
		fail("receipt: tlog.CheckRecord: %v", err)
	}
	fmt.Printf("receipt %s: entry %d (%d bytes, leaf %s) included in tree of size %d root %s: tlog.CheckRecord ok (%d path hashes)\n",
		*receiptPath, r.index, len(r.entry), short(leaf), cp.size, short(cp.root), len(r.proof))
	fmt.Printf("  checkpoint origin %q signed by %d of %d validators (quorum %d): note.Open ok [%s]\n",
		cp.origin, len(cp.signers), len(g.Validators), q, strings.Join(cp.signers, " "))

	if *cp1Path == "" {
		fmt.Println("OK")
		return
	}
	old := openCheckpoint(*cp1Path, readFile(*cp1Path), &g, verifiers, q)
	fmt.Printf("checkpoint %s: size %d root %s, %d of %d signatures: note.Open ok\n",
		*cp1Path, old.size, short(old.root), len(old.signers), len(g.Validators))
	if *cp2Path == "" {
		fmt.Println("OK")
		return
	}
	cur := openCheckpoint(*cp2Path, readFile(*cp2Path), &g, verifiers, q)
	fmt.Printf("checkpoint %s: size %d root %s, %d of %d signatures: note.Open ok\n",
		*cp2Path, cur.size, short(cur.root), len(cur.signers), len(g.Validators))
	if cur.size < old.size {
		fail("the log shrank: %s has size %d, %s had %d", *cp2Path, cur.size, *cp1Path, old.size)
	}
	var cons struct {
		OldSize json.Number `json:"old_size"`
		NewSize json.Number `json:"new_size"`
		Path    []string    `json:"path"`
	}
	if err := json.Unmarshal(readFile(*consPath), &cons); err != nil {
		fail("consistency: %v", err)
	}
	if cons.OldSize.String() != strconv.FormatInt(old.size, 10) || cons.NewSize.String() != strconv.FormatInt(cur.size, 10) {
		fail("consistency: proof is for %s → %s, checkpoints are %d → %d", cons.OldSize, cons.NewSize, old.size, cur.size)
	}
	var tp tlog.TreeProof
	for _, s := range cons.Path {
		raw, err := hex.DecodeString(s)
		if err != nil || len(raw) != tlog.HashSize {
			fail("consistency: bad path hash %q", s)
		}
		var h tlog.Hash
		copy(h[:], raw)
		tp = append(tp, h)
	}
	// Roots from our own verified checkpoints, never from the answer.
	if err := tlog.CheckTree(tp, cur.size, cur.root, old.size, old.root); err != nil {
		fail("consistency: tlog.CheckTree: %v", err)
	}
	fmt.Printf("consistency %d → %d: tlog.CheckTree ok (%d path hashes): the log only grew\n", old.size, cur.size, len(tp))
	fmt.Println("OK")
}
