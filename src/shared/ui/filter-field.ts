/** One field of the bar: a text box (with a hint or suggestions), a day, or a list of choices. */
export type FilterField<Key extends string = string> =
  | {
      readonly key: Key;
      readonly label: string;
      readonly type: 'text' | 'search' | 'date';
      readonly maxlength?: number;
      readonly autocomplete?: 'off';
      readonly hint?: string;
      /** Offered while typing; the field still takes any text. */
      readonly suggestions?: readonly string[];
      /** Takes the free width of the bar (the main search box). */
      readonly wide?: boolean;
    }
  | {
      readonly key: Key;
      readonly label: string;
      readonly type: 'select';
      readonly options: readonly { readonly value: string; readonly label: string }[];
    };
