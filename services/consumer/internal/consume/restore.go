package consume

import (
	"context"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/stats"
)

// anchorWindow is how far back from a file's offset its anchor is looked
// for: past transaction markers and the odd bad record.
const anchorWindow = 32

// anchored checks a partition file against the log it claims: the stats at
// offset N are a pure function of the partition's first N records, so the
// last report the log holds before N must be the last one the file counted
// of its station — that station in the file, its end that report's date. A
// file copied over another partition's (its stations are another
// partition's) or of another stream fails it; a file of this log, however
// old, passes. A window without a report proves nothing and passes. reader
// reads the reports topic.
func anchored(ctx context.Context, reader *logread.Reader, p int32, part *stats.Partition) error {
	if part.Offset == 0 {
		return nil
	}
	var reports []*kgo.Record
	err := reader.Read(ctx, p, max(0, part.Offset-anchorWindow), part.Offset, true, func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			reports = append(reports, r)
		}
	})
	if err != nil {
		return err
	}
	var parser codec.Parser
	for i := len(reports) - 1; i >= 0; i-- {
		r := reports[i]
		f, err := parser.Parse(r.Key, r.Value)
		if err != nil || stats.Reserved(f.StationID) {
			continue // a bad record: never counted
		}
		s, ok := part.Stations[string(f.StationID)]
		switch {
		case ok && s.End.String() == string(f.Date):
			return nil
		case ok && math.IsInf(s.Sum+f.Degrees, 0):
			continue // refused when folded (ErrNotFinite): not counted
		case !ok:
			return fmt.Errorf("the log's last report before offset %d (offset %d) is of %s, which the file does not have", part.Offset, r.Offset, f.StationID)
		default:
			return fmt.Errorf("the log's last report before offset %d (offset %d) is %s on %s, the file's %[3]s ends on %[5]s", part.Offset, r.Offset, f.StationID, f.Date, s.End)
		}
	}
	return nil
}
