package integration

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// manyStations is how many stations the many-stations page test's
// producer reports for (STATIONS): the 100,000, the generator's most.
const manyStations = 100_000

// pageSize is the page's stations per page (PAGE_SIZE in app.js).
const pageSize = 25

// manyStationsPage is a finished pipeline of manyStations stations, two days
// of reports each, and the page open on its dashboard.
type manyStationsPage struct {
	p     *dashboardPipeline
	b     *browser
	names []string      // every station of the view, in its order (sorted)
	view  dashboardView // the API's view of them, exact
}

// startManyStationsPage runs the pipeline to its end (the producer's two
// days of manyStations reports in every file), stops its consumers (their
// last states published), and opens the page on a dashboard refreshing every
// second (each view is ~11 MB of JSON at 100,000 stations).
func startManyStationsPage(t *testing.T) *manyStationsPage {
	t.Helper()
	m := &manyStationsPage{b: newBrowser(t)}
	p := &dashboardPipeline{topic: newTopic(t), dir: t.TempDir()}
	m.p = p
	began := time.Now()
	p.producer = start(t, "producer", []string{"TOPIC=" + p.topic, "INTERVAL=0", fmt.Sprintf("STATIONS=%d", manyStations), fmt.Sprintf("COUNT=%d", 2*manyStations)})
	env := []string{"TOPIC=" + p.topic, "DATA_DIR=" + p.dir}
	p.consumers = []*proc{start(t, "consumer", env, "0", "2"), start(t, "consumer", env, "1", "3")}
	p.finish(t)
	for _, c := range p.consumers { // the snapshots stay as they are from here on
		c.terminate()
		c.wait(30 * time.Second)
	}
	p.dashboard = start(t, "dashboard", []string{"TOPIC=" + p.topic, "REFRESH_INTERVAL=1s"})
	p.dashboard.waitForLog("msg=dashboard", 20*time.Second)
	p.url = "http://" + p.dashboard.httpAddr + "/"
	ends := endOffsets(t, p.topic)
	m.view = p.view(t, "every station at its log's end", func(v dashboardView) bool {
		for _, row := range v.Partitions {
			if row.Offset == nil || *row.Offset != ends[row.Partition] {
				return false
			}
		}
		return len(v.Stations) == manyStations && v.Complete && len(v.Partitions) == len(allPartitions)
	})
	for _, s := range m.view.Stations {
		m.names = append(m.names, s.Station)
	}
	if !slices.IsSorted(m.names) || len(m.view.Latest) == 0 {
		t.Fatalf("the view's stations are not sorted by name, or no station has latest reports (%d)", len(m.view.Latest))
	}
	t.Logf("%d stations, %d reports, in the view in %s", len(m.names), 2*manyStations, time.Since(began).Round(time.Millisecond))
	if err := chromedp.Do(m.b.ctx, chromedp.Navigate(p.url)); err != nil {
		t.Fatal(err)
	}
	m.waitInfo(t, "the first page", "1–25 of "+thousands(int64(len(m.names))))
	// What a view costs the page at this size (logged, not asserted: the
	// machine's load decides): its JSON, and filtering and drawing a page.
	cost, err := chromedp.Run(m.b.ctx, chromedp.Evaluate[[]float64](`(() => {
		const x = new XMLHttpRequest(); x.open('GET', '/api/v1/view', false); x.send();
		let t0 = performance.now(); JSON.parse(x.responseText); const parse = performance.now() - t0;
		const f = document.querySelector('#station-filter');
		t0 = performance.now(); f.value = 'Station5'; f.dispatchEvent(new Event('input')); const filter = performance.now() - t0;
		f.value = ''; f.dispatchEvent(new Event('input'));
		return [x.responseText.length, parse, filter];
	})()`))
	if err != nil || len(cost) != 3 {
		t.Fatalf("measuring the page: %v %v", cost, err)
	}
	t.Logf("a view of %d stations: %.1f MB of JSON, parsed in %.0f ms; filtering and drawing a page: %.0f ms", len(m.names), cost[0]/1e6, cost[1], cost[2])
	return m
}

// withLatest are the stations with latest reports in the view, sorted.
func (m *manyStationsPage) withLatest() []string {
	return slices.Sorted(maps.Keys(m.view.Latest))
}

// station is the view's station name.
func (m *manyStationsPage) station(t *testing.T, name string) (count int64, sum, avg float64, partitions []int32) {
	t.Helper()
	for _, s := range m.view.Stations {
		if s.Station == name {
			return s.Count, s.Sum, s.Avg, s.Partitions
		}
	}
	t.Fatalf("no station %s in the view", name)
	return
}

// run runs the chromedp actions in the page's tab.
func (m *manyStationsPage) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(m.b.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// waitInfo waits until the pager says info ("1–25 of 100,011").
func (m *manyStationsPage) waitInfo(t *testing.T, what, info string) {
	t.Helper()
	eventually(t, m.b, what+" ("+info+")", `document.querySelector('#page-info').textContent`, func(s string) bool { return s == info })
}

// filter types q into the station filter, as a person does, after clearing it.
func (m *manyStationsPage) filter(t *testing.T, q string) {
	t.Helper()
	if _, err := chromedp.Run(m.b.ctx, chromedp.Evaluate[bool](`(() => { const f = document.querySelector('#station-filter'); f.value = ''; return f.dispatchEvent(new Event('input')); })()`)); err != nil {
		t.Fatal(err)
	}
	if q != "" {
		m.run(t, chromedp.SendKeys(chromedp.CSS("#station-filter"), q))
	}
}

// shownStations are the station names of the table's rows, in order.
const shownStations = `Array.from(document.querySelectorAll('#stations tbody tr')).map(tr => tr.dataset.station)`

// pageShape is what bounds the page's work: rows in the table, bars in the
// average chart, cards of latest maxima, and every element of the document.
type pageShape struct {
	Rows, Bars, Sparks, Elements int
}

const readShape = `({Rows: document.querySelectorAll('#stations tbody tr').length,
	Bars: document.querySelectorAll('#chart-avg .bar-row').length,
	Sparks: document.querySelectorAll('#chart-latest .spark').length,
	Elements: document.getElementsByTagName('*').length})`

// matching is names containing q, case-insensitive, as the page filters.
func matching(names []string, q string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), strings.ToLower(q)) {
			out = append(out, n)
		}
	}
	return out
}

// thousands is n with thousands separators: 100,011.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// twoDecimals is x as the page rounds a sum or an average: 342,098.58
// (Intl.NumberFormat's: half away from zero, on the exact value).
func twoDecimals(x float64) string {
	r := new(big.Rat).SetFloat64(x)
	neg := r.Sign() < 0
	r.Abs(r)
	r.Mul(r, big.NewRat(100, 1))
	r.Add(r, big.NewRat(1, 2))
	cents := new(big.Int).Quo(r.Num(), r.Denom()) // floor of a non-negative number
	whole, frac := new(big.Int).QuoRem(cents, big.NewInt(100), new(big.Int))
	s := thousands(whole.Int64()) + fmt.Sprintf(".%02d", frac.Int64())
	if neg && cents.Sign() != 0 {
		s = "-" + s
	}
	return s
}

// exactJS is x as JavaScript's String(x) writes it (for the values here:
// Go's shortest 'f' form).
func exactJS(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// pageCell is one number cell as a person reads it, and its hover text.
type pageCell struct{ Text, Title string }

// The dashboard at 100,000 stations, in a real Chromium: numbers rounded for
// a person with the exact value on hover; a filter narrowing the table; a
// table paged so that the document holds one page of rows (and the charts
// of stations one page of bars and cards), whatever the view holds; and the
// view of one station opened by a click and by a link (#station=NAME).
func TestDashboardPageAtManyStations(t *testing.T) {
	m := startManyStationsPage(t)
	total := int64(len(m.names))

	t.Run("numbers rounded, the exact value on hover", func(t *testing.T) {
		m.filter(t, "")
		m.waitInfo(t, "the first page", "1–25 of "+thousands(total))
		// Every row of the page: a count with separators, a sum and an
		// average to two decimals in °C, and each exact on hover.
		type row struct{ Station, Count, CountTitle, Sum, SumTitle, Avg, AvgTitle string }
		rows := eventually(t, m.b, "the first page's rows", `Array.from(document.querySelectorAll('#stations tbody tr')).map(tr => {
			const c = k => tr.querySelector('.' + k);
			return {Station: tr.dataset.station, Count: c('count').textContent, CountTitle: c('count').title,
				Sum: c('sum').textContent, SumTitle: c('sum').title, Avg: c('avg').textContent, AvgTitle: c('avg').title};
		})`, func(rows []row) bool { return len(rows) == pageSize })
		for i, r := range rows {
			s := m.view.Stations[i]
			want := row{s.Station, thousands(s.Count), strconv.FormatInt(s.Count, 10),
				twoDecimals(s.Sum) + "\u00a0°C", exactJS(s.Sum), twoDecimals(s.Avg) + "\u00a0°C", exactJS(s.Avg)}
			if r != want {
				t.Errorf("row %d: the page shows %+v, want %+v", i, r, want)
			}
		}
		// The summary counts with separators; the partitions' offsets too,
		// exact on hover.
		eventually(t, m.b, "the summary with separators", `document.querySelector('#stations-summary').textContent`, func(s string) bool {
			return s == thousands(total)+" stations · "+thousands(2*manyStations)+" reports"
		})
		offsets := eventually(t, m.b, "the partitions' offsets", `Array.from(document.querySelectorAll('#partitions tbody td.offset')).map(td => ({Text: td.textContent, Title: td.title}))`,
			func(c []pageCell) bool { return len(c) == len(allPartitions) })
		for i, c := range offsets {
			if want := (pageCell{thousands(*m.view.Partitions[i].Offset), strconv.FormatInt(*m.view.Partitions[i].Offset, 10)}); c != want || !strings.Contains(c.Text, ",") {
				t.Errorf("partition %d's offset shows %+v, want %+v", i, c, want)
			}
		}
	})

	t.Run("the filter narrows the rows", func(t *testing.T) {
		for _, q := range []string{"sTaTiOn0042", "9999", "Station31415"} {
			want := matching(m.names, q)
			m.filter(t, q)
			m.waitInfo(t, "the stations matching "+q, "1–"+strconv.Itoa(min(pageSize, len(want)))+" of "+thousands(int64(len(want)))+" matching")
			got := eventually(t, m.b, "the rows matching "+q, shownStations, func(rows []string) bool { return len(rows) == min(pageSize, len(want)) })
			if !slices.Equal(got, want[:len(got)]) {
				t.Errorf("filter %q: the rows are %v, want %v", q, got, want[:min(pageSize, len(want))])
			}
		}
		m.filter(t, "no such station")
		eventually(t, m.b, "that no station matches", `document.querySelector('#stations-empty').hidden ? '' : document.querySelector('#stations-empty').textContent`,
			func(s string) bool { return strings.Contains(s, "No station matches") })
		m.filter(t, "")
		m.waitInfo(t, "every station again", "1–25 of "+thousands(total))
	})

	t.Run("paging keeps the document one page big", func(t *testing.T) {
		m.filter(t, "")
		m.waitInfo(t, "the first page", "1–25 of "+thousands(total))
		for i, step := range []struct {
			button string
			first  int
		}{{"", 0}, {"#page-next", 25}, {"#page-next", 50}, {"#page-prev", 25}} {
			if step.button != "" {
				m.run(t, chromedp.Click(chromedp.CSS(step.button)))
			}
			info := thousands(int64(step.first+1)) + "–" + thousands(int64(step.first+pageSize)) + " of " + thousands(total)
			m.waitInfo(t, fmt.Sprintf("page %d", i), info)
			want := m.names[step.first : step.first+pageSize]
			eventually(t, m.b, "the rows "+info, shownStations, func(rows []string) bool { return slices.Equal(rows, want) })
		}
		shape := eventually(t, m.b, "the page's shape", readShape, func(s pageShape) bool { return s.Rows > 0 })
		// One page of rows and of bars; the made-up stations have no latest
		// reports (no cards); the whole document a few thousand elements,
		// not the hundreds of thousands 100,000 rows would make.
		if shape.Rows != pageSize || shape.Bars != pageSize || shape.Sparks > pageSize || shape.Elements > 3000 {
			t.Errorf("at %d stations the page holds %+v; want %d rows, %d bars, at most %d cards, at most 3000 elements",
				total, shape, pageSize, pageSize, pageSize)
		}
		if state, err := chromedp.Run(m.b.ctx, chromedp.Evaluate[[]bool](`[document.querySelector('#page-prev').disabled, document.querySelector('#page-next').disabled]`)); err != nil || state[0] || state[1] {
			t.Errorf("prev and next disabled: %v (err %v), want both enabled on page 2", state, err)
		}
		m.run(t, chromedp.Click(chromedp.CSS("#page-prev")))
		m.waitInfo(t, "the first page again", "1–25 of "+thousands(total))
	})

	// sv is the station view as a person reads it.
	type stationView struct {
		Visible    bool
		Name, Hash string
		Partitions []struct{ Partition, State, Lag, LagTitle string }
		Latest     []struct{ Date, Degrees, Exact string }
	}
	const readStationView = `(() => {
		const box = document.querySelector('#station-view');
		return {Visible: !box.hidden, Name: document.querySelector('#sv-name').textContent, Hash: location.hash,
			Partitions: Array.from(box.querySelectorAll('.sv-partitions tbody tr')).map(tr => ({Partition: tr.dataset.partition,
				State: tr.querySelector('.badge').textContent, Lag: tr.querySelector('.lag').textContent, LagTitle: tr.querySelector('.lag').title})),
			Latest: Array.from(box.querySelectorAll('.sv-latest tbody tr')).map(tr => ({Date: tr.cells[0].textContent,
				Degrees: tr.cells[1].textContent, Exact: tr.cells[1].title}))};
	})()`
	// shows reports whether the station view shows name as the view has it:
	// its partition with that partition's state and lag, and its latest
	// reports, newest first.
	shows := func(t *testing.T, sv stationView, name string) bool {
		_, _, _, parts := m.station(t, name)
		if !sv.Visible || sv.Name != name || len(sv.Partitions) != len(parts) {
			return false
		}
		for i, p := range parts {
			row := m.view.Partitions[p]
			if row.Partition != p || row.Lag == nil {
				t.Fatalf("the view's partition %d: %+v", p, row)
			}
			got := sv.Partitions[i]
			if got.Partition != strconv.Itoa(int(p)) || got.State != row.State || got.Lag != thousands(*row.Lag) || got.LagTitle != strconv.FormatInt(*row.Lag, 10) {
				return false
			}
		}
		latest := m.view.Latest[name]
		if len(sv.Latest) != len(latest) {
			return false
		}
		for i, r := range latest {
			got := sv.Latest[len(latest)-1-i]
			if got.Date != r.Date || got.Degrees != twoDecimals(r.Degrees)+"\u00a0°C" || got.Exact != exactJS(r.Degrees) {
				return false
			}
		}
		return true
	}

	t.Run("a click opens the station view, closable", func(t *testing.T) {
		name := m.withLatest()[0] // one with its latest reports
		m.filter(t, name)
		m.waitInfo(t, name+" alone", "1–1 of 1 matching")
		m.run(t, chromedp.Click(chromedp.CSS(`#stations tbody tr[data-station="`+name+`"] a`)))
		sv := eventually(t, m.b, name+"'s view", readStationView, func(sv stationView) bool { return shows(t, sv, name) })
		if sv.Hash != "#station="+name {
			t.Errorf("the URL's hash is %q, want #station=%s", sv.Hash, name)
		}
		eventually(t, m.b, name+"'s row selected", `document.querySelector('#stations tbody tr.selected')?.dataset.station || ''`,
			func(s string) bool { return s == name })
		screenshot(t, m.b, "dashboard-station.png", 1280, 800)
		// The close button where a person sees it: not under the sticky top bar.
		eventually(t, m.b, "the close button in view", `(() => { const b = document.querySelector('#sv-close'); const r = b.getBoundingClientRect();
			return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === b; })()`, func(ok bool) bool { return ok })
		m.run(t, chromedp.Click(chromedp.CSS("#sv-close")))
		eventually(t, m.b, "the station view closed", readStationView, func(sv stationView) bool { return !sv.Visible && sv.Hash == "" })
	})

	t.Run("a link opens the station view", func(t *testing.T) {
		with := m.withLatest()
		without := ""
		for _, n := range slices.Backward(m.names) {
			if _, ok := m.view.Latest[n]; !ok {
				without = n
				break
			}
		}
		if without == "" {
			t.Fatal("every station has latest reports: no station to show without")
		}
		for _, name := range []string{with[len(with)-1], without} {
			// A new document (from about:blank: a hash alone would only be a
			// hashchange, which the click already covers).
			if err := chromedp.Do(m.b.ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(m.p.url+"#station="+name)); err != nil {
				t.Fatal(err)
			}
			eventually(t, m.b, name+"'s view from the link", readStationView, func(sv stationView) bool { return shows(t, sv, name) })
		}
	})

	if problems := m.b.console(); len(problems) > 0 {
		t.Errorf("the browser's console has errors:\n%s", strings.Join(problems, "\n"))
	}
}
