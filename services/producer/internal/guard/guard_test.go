package guard

import (
	"slices"
	"testing"
)

// The producer's records, nobody else writing: contiguous within a
// transaction, one offset (the marker) between two. Anything else is a gap.
func TestWrittenFindsTheGaps(t *testing.T) {
	type write struct {
		p      int32
		offset int64
	}
	commit := write{-1, -1}
	tests := []struct {
		name   string
		ends   map[int32]int64
		writes []write
		want   []Gap
	}{
		{"alone", map[int32]int64{0: 10, 1: 0}, []write{{0, 10}, {1, 0}, {0, 11}, commit, {0, 13}, {1, 2}}, nil},
		{"a partition left out of a transaction has no marker", map[int32]int64{0: 0, 1: 0},
			[]write{{0, 0}, commit, {1, 0}, commit, {0, 2}, {1, 2}}, nil},
		{"someone wrote before our first record", map[int32]int64{0: 10}, []write{{0, 12}}, []Gap{{0, 10, 12}}},
		{"someone wrote within our transaction", map[int32]int64{0: 0}, []write{{0, 0}, {0, 1}, {0, 5}}, []Gap{{0, 2, 5}}},
		{"someone wrote before our marker", map[int32]int64{0: 0}, []write{{0, 0}, commit, {0, 3}}, []Gap{{0, 2, 3}}},
		{"a partition added since the start", map[int32]int64{0: 0}, []write{{0, 0}, {3, 40}, {3, 41}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(nil, nil, tt.ends)
			for _, w := range tt.writes {
				if w == commit {
					g.Committed()
					continue
				}
				g.Written(w.p, w.offset)
			}
			if !slices.Equal(g.gaps, tt.want) {
				t.Errorf("gaps %v, want %v", g.gaps, tt.want)
			}
		})
	}
}
