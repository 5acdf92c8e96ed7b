// Command transformer upper-cases one part of a text and counts its words, then publishes
// `part_transformed` with both files.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ion-platform/ion/sdk/go/ionmodule"
)

type wordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

func countWords(text string) (int, []wordCount) {
	counts := map[string]int{}
	total := 0
	for _, field := range strings.Fields(strings.ToLower(text)) {
		word := strings.TrimFunc(field, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') })
		if word != "" {
			counts[word]++
			total++
		}
	}
	top := make([]wordCount, 0, len(counts))
	for w, c := range counts {
		top = append(top, wordCount{w, c})
	}
	sort.Slice(top, func(i, j int) bool {
		return top[i].Count > top[j].Count || top[i].Count == top[j].Count && top[i].Word < top[j].Word
	})
	if len(top) > 5 {
		top = top[:5]
	}
	return total, top
}

func transform(_ context.Context, m *ionmodule.Module) error {
	received, err := m.InputFiles()
	if err != nil {
		return err
	}
	if len(received) != 1 {
		return fmt.Errorf("expected one part file, got %v", received)
	}
	text, err := m.ReadInput(received[0])
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(path.Base(received[0]), ".txt")
	upper := "upper/" + base + ".txt"
	counts := "counts/" + base + ".json"
	if err := m.WriteFile(upper, []byte(strings.ToUpper(string(text)))); err != nil {
		return err
	}
	words, top := countWords(string(text))
	if words == 0 {
		return errors.New("the part has no words")
	}
	encoded, err := json.MarshalIndent(map[string]any{"words": words, "top": top}, "", "  ")
	if err != nil {
		return err
	}
	if err := m.WriteFile(counts, encoded); err != nil {
		return err
	}
	data := map[string]string{"index": m.Data["index"], "total": m.Data["total"], "words": strconv.Itoa(words)}
	if _, err := m.Publish("part_transformed", []string{upper, counts}, data); err != nil {
		return err
	}
	// The original list-of-pairs insight form, as older readers expect.
	return m.InsightPairs(map[string]any{"received": strings.Join(received, ","), "words": words})
}

func main() {
	ionmodule.Run(transform)
}
