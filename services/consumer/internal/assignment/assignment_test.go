package assignment

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    []int32
		wantErr string
	}{
		{"arguments, as the original", []string{"0", "2"}, "", []int32{0, 2}, ""},
		{"arguments win over env", []string{"3"}, "0,1", []int32{3}, ""},
		{"env", nil, "2,0", []int32{0, 2}, ""},
		{"env with spaces", nil, " 1, 3 ", []int32{1, 3}, ""},
		{"one argument with commas", []string{"0,1,2,3"}, "", []int32{0, 1, 2, 3}, ""},
		{"nothing", nil, "", nil, "no partitions"},
		{"not a number", []string{"zero"}, "", nil, `partition "zero"`},
		{"negative", nil, "-1", nil, `partition "-1"`},
		{"twice", []string{"1", "1"}, "", nil, "named twice"},
		{"too big", []string{"99999999999"}, "", nil, "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Parse = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	if err := Check([]int32{0, 3}, "t", 4); err != nil {
		t.Error(err)
	}
	if err := Check([]int32{0, 4}, "t", 4); err == nil || !strings.Contains(err.Error(), "partition 4 does not exist") {
		t.Errorf("Check = %v", err)
	}
}

func TestForOrdinal(t *testing.T) {
	tests := []struct {
		spec    string
		ordinal int
		want    []int32
		wantErr string
	}{
		{"0,2;1,3", 0, []int32{0, 2}, ""},
		{"0,2;1,3", 1, []int32{1, 3}, ""},
		{"0,2;1,3", 2, nil, ""}, // a spare
		{"0,1,2,3;;", 1, nil, ""},
		{"3;2;1;0", 3, []int32{0}, ""},
		{"0,2;2,3", 0, nil, "partition 2 to ordinals 0 and 1"},
		{"0;x", 0, nil, "entry 1"},
		{"0", -1, nil, "ordinal -1"},
	}
	for _, tt := range tests {
		got, err := ForOrdinal(tt.spec, tt.ordinal)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ForOrdinal(%q, %d) = %v, %v; want error %q", tt.spec, tt.ordinal, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ForOrdinal(%q, %d) = %v, %v; want %v", tt.spec, tt.ordinal, got, err, tt.want)
		}
	}
}
