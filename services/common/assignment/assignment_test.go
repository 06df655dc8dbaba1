package assignment

import (
	"slices"
	"strings"
	"testing"
)

func TestParseByOrdinal(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"0,2;1,3", "0,2;1,3", ""},
		{"0 2;1 3", "0,2;1,3", ""}, // spaces, as a person may type it
		{" 2 , 0 ; 3,1 ;;", "0,2;1,3", ""},
		{"", ";", ""},  // nobody owns anything: written so it is not a variable set empty
		{";", ";", ""}, // … and read back
		{";;", ";", ""},
		{";1", ";1", ""},
		{"0,1,2,3;;", "0,1,2,3", ""},
		{"0,1;1", "", "partition 1 to ordinals 0 and 1"},
		{"0,0;1", "", "partition 0 named twice"},
		{"0;x", "", `entry 1: partition "x"`},
		{"-1", "", `partition "-1"`},
		{"99999999999", "", "want a number"},
	}
	for _, tt := range tests {
		a, err := ParseByOrdinal(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseByOrdinal(%q) = %v, %v; want error %q", tt.in, a, err, tt.wantErr)
			}
			continue
		}
		if err != nil || a.String() != tt.want {
			t.Errorf("ParseByOrdinal(%q) = %q, %v; want %q", tt.in, a, err, tt.want)
		}
		if again, err := ParseByOrdinal(a.String()); err != nil || !again.Equal(a) {
			t.Errorf("String of %q does not read back: %q, %v", tt.in, again, err)
		}
	}
}

func TestOfAndPartitions(t *testing.T) {
	a, _ := ParseByOrdinal("3;2,0;;1")
	for _, tt := range []struct {
		ordinal int
		want    []int32
	}{{0, []int32{3}}, {1, []int32{0, 2}}, {2, nil}, {3, []int32{1}}, {4, nil}, {-1, nil}} {
		if got := a.Of(tt.ordinal); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
			t.Errorf("Of(%d) = %v, want %v", tt.ordinal, got, tt.want)
		}
	}
	if got := a.Partitions(); !slices.Equal(got, []int32{0, 1, 2, 3}) {
		t.Errorf("Partitions = %v", got)
	}
}

func TestParseList(t *testing.T) {
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
			got, err := ParseList(tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseList = %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseList = %v, %v; want %v", got, err, tt.want)
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

func TestOrdinal(t *testing.T) {
	tests := []struct {
		podIndex int
		host     string
		want     int
		wantErr  bool
	}{
		{2, "anything", 2, false},
		{-1, "weather-consumer-3", 3, false},
		{-1, "weather-consumer-12", 12, false},
		{-1, "laptop", 0, true},
		{-1, "weather-consumer-x", 0, true},
		{-1, "", 0, true},
	}
	for _, tt := range tests {
		got, err := Ordinal(tt.podIndex, tt.host)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Ordinal(%d, %q) = %d, %v; want %d (error %v)", tt.podIndex, tt.host, got, err, tt.want, tt.wantErr)
		}
	}
}
