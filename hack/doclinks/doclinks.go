// Package doclinks checks that the repository's documentation has no dead
// links: every relative link of every Markdown file names a file that
// exists, and every #anchor a heading of its page, by GitHub's rules; and
// every docs/ page the code, the chart or a script names (in an error
// message, a comment, a runbook URL) exists, with the heading it names.
// The README is a front door to docs/, so a moved heading must not leave a
// link, a runbook or an error message pointing at nothing.
package doclinks

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// Problem is a dead link: where it is, and what is wrong.
type Problem struct {
	File string // relative to the root
	Line int
	What string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.What) }

// Report is what Check looked at, and what it found dead.
type Report struct {
	Pages    []string // Markdown files, relative to the root
	Links    int      // relative links and anchors checked in them
	Named    int      // docs/ pages named outside Markdown
	Problems []Problem
}

var (
	// A link or an image: [text](target) or ![alt](target "title").
	linkRe = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// A code span, whose text is never a link.
	codeSpanRe = regexp.MustCompile("`+[^`]*`+")
	headingRe  = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	// A docs page named outside Markdown: docs/x.md, docs/x.md#anchor, or
	// "(docs/x.md: Its heading)" as an error message says it.
	namedRe = regexp.MustCompile(`docs/([a-z0-9_-]+\.md)(?:#([A-Za-z0-9_-]+)|: ([^)"\n]+)\))?`)
)

// ourBlob is how the project's pages are linked on GitHub (the runbook
// URLs): a docs/ path after it is ours, after any other path it is not.
const ourBlob = "github.com/weatherstream/weather/blob/main/"

// Where other files may name docs pages: the code and everything shipped
// or run beside it.
var namingExts = map[string]bool{".go": true, ".yaml": true, ".yml": true, ".tpl": true, ".txt": true, ".sh": true, ".json": true, ".mk": true}

// skipDir reports whether a directory holds no documentation of ours:
// hidden ones (.git, .cache with copies of older trees), build output, and
// this package (its tests name dead links on purpose).
func skipDir(root, path string, d fs.DirEntry) bool {
	name := d.Name()
	if path == root {
		return false
	}
	rel, _ := filepath.Rel(root, path)
	return strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" ||
		rel == "bin" || rel == "data" || rel == "artifacts" || rel == filepath.Join("hack", "doclinks")
}

// Check looks at every Markdown file under root and every file that may
// name a docs page.
func Check(root string) (Report, error) {
	var r Report
	var named []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(root, path, d) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch ext := filepath.Ext(path); {
		case ext == ".md":
			r.Pages = append(r.Pages, rel)
		case namingExts[ext] || d.Name() == "Makefile":
			named = append(named, rel)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	pages := pageCache{root: root, anchors: map[string]map[string]bool{}}
	for _, page := range r.Pages {
		links, err := pageLinks(filepath.Join(root, page))
		if err != nil {
			return r, err
		}
		for _, l := range links {
			r.Links++
			target := l.target
			if strings.HasPrefix(target, "#") { // a heading of this page
				target = filepath.Base(page) + target
			}
			if what := pages.resolve(filepath.Dir(page), target); what != "" {
				r.Problems = append(r.Problems, Problem{page, l.line, what})
			}
		}
	}
	for _, file := range named {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return r, err
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, at := range namedRe.FindAllStringSubmatchIndex(line, -1) {
				before := line[:at[0]]
				if strings.HasSuffix(before, "/") && !strings.HasSuffix(before, ourBlob) {
					continue // another site's docs/, or a path that is not ours
				}
				r.Named++
				target := "docs/" + line[at[2]:at[3]]
				switch {
				case at[4] >= 0:
					target += "#" + line[at[4]:at[5]]
				case at[6] >= 0:
					target += "#" + Slug(line[at[6]:at[7]])
				}
				if what := pages.resolve(".", target); what != "" {
					r.Problems = append(r.Problems, Problem{file, i + 1, what})
				}
			}
		}
	}
	return r, nil
}

type link struct {
	line   int
	target string
}

// pageLinks are the relative links of a Markdown file, outside code.
func pageLinks(path string) ([]link, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var links []link
	var fence codeFence
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if fence.at(line) {
			continue
		}
		if fence.open != "" {
			continue
		}
		for _, m := range linkRe.FindAllStringSubmatch(codeSpanRe.ReplaceAllString(line, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue // the web: not ours to check offline
			}
			links = append(links, link{n, target})
		}
	}
	return links, sc.Err()
}

// codeFence follows a page's fenced code blocks, line by line.
type codeFence struct{ open string } // the fence of the block the line is in, "" outside

// at reports whether line opens or closes a block (its fence as long as
// the opening one, or longer), and moves in or out of it.
func (c *codeFence) at(line string) bool {
	f := fenceOf(line)
	if f == "" || (c.open != "" && !strings.HasPrefix(f, c.open)) {
		return false
	}
	if c.open == "" {
		c.open = f
	} else {
		c.open = ""
	}
	return true
}

// fenceOf is the fence a line opens or closes (``` or ~~~, as long as it
// is), or "".
func fenceOf(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return ""
	}
	for _, c := range []string{"`", "~"} {
		if strings.HasPrefix(t, c+c+c) {
			return t[:len(t)-len(strings.TrimLeft(t, c))]
		}
	}
	return ""
}

// pageCache holds the anchors of each Markdown file read so far.
type pageCache struct {
	root    string
	anchors map[string]map[string]bool
}

// resolve says what is wrong with target, a link from a file in dir
// (relative to the root), or "" if nothing is.
func (c pageCache) resolve(dir, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	file := filepath.Join(dir, path)
	if rel, err := filepath.Rel(c.root, filepath.Join(c.root, file)); err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Sprintf("%q: outside the repository", target)
	}
	if _, err := os.Stat(filepath.Join(c.root, file)); err != nil {
		return fmt.Sprintf("%q: no such file", target)
	}
	if anchor == "" {
		return ""
	}
	if filepath.Ext(file) != ".md" {
		return fmt.Sprintf("%q: an anchor into a file that is not Markdown", target)
	}
	anchors, err := c.of(file)
	if err != nil {
		return fmt.Sprintf("%q: %v", target, err)
	}
	if !anchors[anchor] {
		return fmt.Sprintf("%q: %s has no heading #%s", target, filepath.ToSlash(file), anchor)
	}
	return ""
}

// of returns the anchors of the Markdown file at path (relative to the root).
func (c pageCache) of(path string) (map[string]bool, error) {
	if a, ok := c.anchors[path]; ok {
		return a, nil
	}
	data, err := os.ReadFile(filepath.Join(c.root, path))
	if err != nil {
		return nil, err
	}
	a := Anchors(string(data))
	c.anchors[path] = a
	return a, nil
}

// Anchors are the ids GitHub gives the headings of a Markdown page (those
// in code blocks are none), a repeated one suffixed -1, -2, ….
func Anchors(page string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	var fence codeFence
	for _, line := range strings.Split(page, "\n") {
		if fence.at(line) {
			continue
		}
		m := headingRe.FindStringSubmatch(line)
		if fence.open != "" || m == nil {
			continue
		}
		slug := Slug(m[2])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// mdLinkRe is a link inside a heading, whose text alone counts.
var mdLinkRe = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// Slug is the anchor GitHub makes of a heading (github-slugger): its text
// in lower case, every character but letters, digits, marks, '-' and '_'
// dropped, each space a '-'.
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(mdLinkRe.ReplaceAllString(strings.TrimSpace(heading), "$1")) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}
