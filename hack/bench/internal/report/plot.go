package report

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/weatherstream/weather/hack/bench/internal/consumerpass"
	"github.com/weatherstream/weather/hack/bench/internal/scaling"
)

// PlotScaling draws the three scaling series side by side into a PNG.
func PlotScaling(sc scaling.Series, path string) error {
	panels := []*plot.Plot{
		series(fmt.Sprintf("One consumer, more partitions (%d stations)", sc.PartStations), "partitions", "reports/s (thousands)",
			sc.Partitions, func(p consumerpass.Point) float64 { return p.PerSec / 1e3 }, true),
		series(fmt.Sprintf("More consumer processes (%d partitions)", sc.ProcsPartitions), "consumer processes", "reports/s (thousands), all",
			sc.Procs, func(p consumerpass.Point) float64 { return p.PerSec / 1e3 }, false),
		series("More stations (4 partitions)", "stations", "checkpoint write (ms)",
			sc.Stations, func(p consumerpass.Point) float64 { return p.CkptMean.Seconds() * 1e3 }, true),
	}
	const w, h = 15 * vg.Inch, 4 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	for i, p := range panels {
		p.Draw(tiles.At(dc, i, 0))
	}
	png := vgimg.PngCanvas{Canvas: img}
	f, err := createFile(path)
	if err != nil {
		return err
	}
	if _, err := png.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// series is one panel: y(point) over the points' x, a line with its points
// labelled by value.
func series(title, x, y string, pts []consumerpass.Point, value func(consumerpass.Point) float64, logX bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Y.Min = 0
	xy := make(plotter.XYs, len(pts))
	labels := make([]string, len(pts))
	ticks := make([]plot.Tick, 0, len(pts))
	for i, pt := range pts {
		xy[i].X, xy[i].Y = float64(pt.X), value(pt)
		labels[i] = fmt.Sprintf("%.0f", xy[i].Y)
		if xy[i].Y < 10 {
			labels[i] = fmt.Sprintf("%.1f", xy[i].Y)
		}
		ticks = append(ticks, plot.Tick{Value: xy[i].X, Label: fmt.Sprint(pt.X)})
	}
	if logX {
		p.X.Scale = plot.LogScale{}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		t := (plot.DefaultTicks{}).Ticks(lo, hi)
		for i := range t {
			if t[i].Label != "" {
				t[i].Label = fmt.Sprintf("%g", t[i].Value) // 1200, not 1200.00
			}
		}
		return t
	})
	if len(xy) == 0 {
		return p
	}
	line, points, err := plotter.NewLinePoints(xy)
	if err == nil {
		line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
		points.Color = line.Color
		p.Add(line, points, plotter.NewGrid())
	}
	if l, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels}); err == nil {
		p.Add(l)
	}
	p.Y.Max = 1.2 * maxY(xy)
	if logX && len(xy) > 1 {
		p.X.Min, p.X.Max = xy[0].X/1.5, xy[len(xy)-1].X*1.5
	} else if len(xy) > 1 {
		p.X.Min, p.X.Max = xy[0].X-0.3, xy[len(xy)-1].X+0.3
	}
	return p
}

func maxY(xy plotter.XYs) float64 {
	m := 0.0
	for _, v := range xy {
		m = max(m, v.Y)
	}
	return m
}

func createFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
}
